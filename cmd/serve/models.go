package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/safefile"
)

// servable is one loaded version of the model. Requests hold a reference (acquire/release) while
// they use it; a version that is replaced is closed once its last request has finished.
type servable struct {
	version  int64
	dir      string
	model    *exported.Model
	batcher  *exported.Batcher // serving_default without the CAM; nil without -enable_batching
	camBatch *exported.Batcher // serving_default with the CAM; nil without -enable_batching
	sigs     map[string]json.RawMessage
	eval     pipeline.Config // the evaluation transforms, for images decoded in Go (:cam)
	refs     sync.WaitGroup
}

func (s *servable) release() { s.refs.Done() }

func (s *servable) close() {
	s.refs.Wait()
	if s.batcher != nil {
		s.batcher.Close()
		s.camBatch.Close()
	}
	s.model.Close()
}

// versionStatus is a version's entry in the model status (TensorFlow Serving's ModelVersionStatus).
type versionStatus struct {
	Version int64
	State   string // AVAILABLE or END
	Err     string // why it failed to load; "" for a version that was served and then replaced
}

// fingerprint identifies the contents of a version folder well enough to notice that a version that
// failed to load (often: one still being copied) has changed.
type fingerprint string

func fingerprintOf(dir string) fingerprint {
	var fp string
	for _, f := range []string{"saved_model.pb", filepath.Join("variables", "variables.index"), filepath.Join("assets", exported.LabelsFile)} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			fp += fmt.Sprintf("%s:%d:%d;", f, st.Size(), st.ModTime().UnixNano())
		} else {
			fp += f + ":-;"
		}
	}
	return fingerprint(fp)
}

// managerConfig is how the manager loads versions.
type managerConfig struct {
	Base, Name string
	Load       []exported.Option
	Batching   *exported.BatchConfig // nil: no dynamic batching
	MaxPixels  int
	Logger     *slog.Logger
	OnVersion  func(version int64) // called after a version starts serving
	OnFailure  func(version int64) // called when a version fails to load
}

// manager serves the highest version of a model base path: TensorFlow Serving's default version
// policy (latest 1). poll loads a new version and swaps it in; a version that fails to load is
// reported and the version being served stays.
type manager struct {
	cfg    managerConfig
	single bool // the base path is itself a SavedModel, served as version 1

	mu       sync.RWMutex
	cur      *servable
	history  []versionStatus // versions no longer or never served, newest first
	failed   map[int64]fingerprint
	retiring sync.WaitGroup
	closed   bool
}

const maxHistory = 16

func newManager(cfg managerConfig) (*manager, error) {
	st, err := os.Stat(cfg.Base)
	if err != nil {
		return nil, fmt.Errorf("model base path: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model base path %s: not a directory", cfg.Base)
	}
	m := &manager{cfg: cfg, failed: map[int64]fingerprint{}}
	if _, err := os.Stat(filepath.Join(cfg.Base, "saved_model.pb")); err == nil {
		m.single = true
	}
	return m, nil
}

// versions lists the numeric version folders of the base path, highest first.
func (m *manager) versions() ([]int64, error) {
	if m.single {
		return []int64{1}, nil
	}
	entries, err := os.ReadDir(m.cfg.Base)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	var vs []int64
	for _, e := range entries {
		if !e.IsDir() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		v, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || v < 0 || strconv.FormatInt(v, 10) != e.Name() {
			continue
		}
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b int64) int { return int(sign(b - a)) })
	return vs, nil
}

func sign(x int64) int64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func (m *manager) versionDir(v int64) string {
	if m.single {
		return m.cfg.Base
	}
	return filepath.Join(m.cfg.Base, strconv.FormatInt(v, 10))
}

// poll looks at the base path once and swaps in the highest version that loads, if it is not the one
// being served. It returns an error only when nothing is served after it.
func (m *manager) poll(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("poll %s: unexpected failure: %v", m.cfg.Base, r)
		}
	}()
	vs, err := m.versions()
	if err != nil {
		return m.orServing(err)
	}
	m.mu.RLock()
	cur := m.cur
	m.mu.RUnlock()
	var lastErr error
	for _, v := range vs {
		if cur != nil && v == cur.version {
			return nil
		}
		if ctx.Err() != nil {
			return m.orServing(ctx.Err())
		}
		dir := m.versionDir(v)
		fp := fingerprintOf(dir)
		m.mu.RLock()
		old, tried := m.failed[v]
		m.mu.RUnlock()
		if tried && old == fp {
			continue // failed before and unchanged since
		}
		s, err := m.load(v, dir)
		if err != nil {
			lastErr = err
			m.cfg.Logger.Error("model version failed to load; the version being served stays", "model", m.cfg.Name, "version", v, "err", err)
			m.mu.Lock()
			m.failed[v] = fp
			m.record(versionStatus{Version: v, State: "END", Err: err.Error()})
			m.mu.Unlock()
			if m.cfg.OnFailure != nil {
				m.cfg.OnFailure(v)
			}
			continue
		}
		m.swap(s)
		return nil
	}
	if len(vs) == 0 {
		return m.orServing(fmt.Errorf("no version folders (numeric names such as 1/, 2/ holding saved_model.pb) and no saved_model.pb in %s", m.cfg.Base))
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no version of %s loads", m.cfg.Base)
	}
	return m.orServing(lastErr)
}

func (m *manager) orServing(err error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.cur != nil {
		return nil
	}
	return err
}

// record adds a status entry (m.mu held), replacing an older entry of the same version.
func (m *manager) record(st versionStatus) {
	m.history = slices.DeleteFunc(m.history, func(h versionStatus) bool { return h.Version == st.Version })
	m.history = append([]versionStatus{st}, m.history...)
	if len(m.history) > maxHistory {
		m.history = m.history[:maxHistory]
	}
}

func (m *manager) load(v int64, dir string) (*servable, error) {
	sigs, err := signatureDefs(dir)
	if err != nil {
		return nil, err
	}
	model, err := exported.Load(dir, m.cfg.Load...)
	if err != nil {
		return nil, err
	}
	s := &servable{version: v, dir: dir, model: model, sigs: sigs}
	s.eval = pipeline.DefaultConfig()
	s.eval.ImageSize = model.InputSize()
	s.eval.ResizeSize = model.Metadata().ResizeSize
	if s.eval.ResizeSize == 0 {
		s.eval.ResizeSize = s.eval.ImageSize * 8 / 7 // cmd/predict's rule for models without resize_size
	}
	s.eval.ResizeSize = max(s.eval.ResizeSize, s.eval.ImageSize)
	s.eval.MaxPixels = m.cfg.MaxPixels
	if err := s.eval.Validate(); err != nil {
		model.Close()
		return nil, fmt.Errorf("load model %s: evaluation transforms: %w", dir, err)
	}
	// A version that loads but cannot predict (a graph that fails at run time) is not swapped in.
	size := model.InputSize()
	probe := exported.Images{N: 1, Height: size, Width: size, Pix: make([]float32, size*size*3)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := model.Predict(ctx, probe, exported.WithCAM()); err != nil {
		model.Close()
		return nil, fmt.Errorf("load model %s: a trial prediction failed: %w", dir, err)
	}
	if m.cfg.Batching != nil {
		s.batcher = exported.NewBatcher(model, *m.cfg.Batching)
		withCAM := *m.cfg.Batching
		withCAM.CAM = true
		s.camBatch = exported.NewBatcher(model, withCAM)
	}
	return s, nil
}

// swap makes s the version served and retires the previous one once its requests have finished.
func (m *manager) swap(s *servable) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		s.close()
		return
	}
	old := m.cur
	m.cur = s
	delete(m.failed, s.version)
	m.history = slices.DeleteFunc(m.history, func(h versionStatus) bool { return h.Version == s.version })
	if old != nil {
		m.record(versionStatus{Version: old.version, State: "END"})
		m.retiring.Add(1)
	}
	m.mu.Unlock()
	m.cfg.Logger.Info("serving model version", "model", m.cfg.Name, "version", s.version, "dir", s.dir)
	if m.cfg.OnVersion != nil {
		m.cfg.OnVersion(s.version)
	}
	if old != nil {
		go func() {
			defer m.retiring.Done()
			old.close()
			m.cfg.Logger.Info("unloaded model version", "model", m.cfg.Name, "version", old.version)
		}()
	}
}

// acquire returns the servable for version (-1: the latest) with a reference the caller releases.
func (m *manager) acquire(version int64) (*servable, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.cur
	if s == nil || m.closed || (version >= 0 && version != s.version) {
		if version < 0 {
			return nil, &notFound{fmt.Sprintf("Servable not found for request: Latest(%s)", m.cfg.Name)}
		}
		return nil, &notFound{fmt.Sprintf("Servable not found for request: Specific(%s, %d)", m.cfg.Name, version)}
	}
	s.refs.Add(1)
	return s, nil
}

// status lists the versions TensorFlow Serving's model status shows: the one served and those that
// ended or failed, highest version first; version >= 0 keeps only that one.
func (m *manager) status(version int64) []versionStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []versionStatus
	if m.cur != nil {
		out = append(out, versionStatus{Version: m.cur.version, State: "AVAILABLE"})
	}
	out = append(out, m.history...)
	if version >= 0 {
		out = slices.DeleteFunc(out, func(s versionStatus) bool { return s.Version != version })
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out
}

// watch polls every interval until ctx ends.
func (m *manager) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.poll(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Error("poll model base path", "model", m.cfg.Name, "err", err)
			}
		}
	}
}

// close stops serving: it waits for the requests in flight, then releases every version.
func (m *manager) close() {
	m.mu.Lock()
	cur := m.cur
	m.closed = true
	m.cur = nil
	m.mu.Unlock()
	if cur != nil {
		cur.close()
	}
	m.retiring.Wait()
}

// signatureDefs reads the SignatureDefs of the serve MetaGraph of the SavedModel in dir, as JSON in
// TensorFlow Serving's metadata format (protobuf JSON with the proto field names).
func signatureDefs(dir string) (map[string]json.RawMessage, error) {
	b, err := safefile.Read(context.Background(), filepath.Join(dir, "saved_model.pb"), 2<<30)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load model %s: no saved_model.pb: not a SavedModel directory", dir)
	} else if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	var saved pb.SavedModel
	if err := proto.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("load model %s: saved_model.pb is corrupt: %w", dir, err)
	}
	opts := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	for _, mg := range saved.GetMetaGraphs() {
		if !slices.Contains(mg.GetMetaInfoDef().GetTags(), exported.TagServe) {
			continue
		}
		out := map[string]json.RawMessage{}
		for name, def := range mg.GetSignatureDef() {
			j, err := opts.Marshal(def)
			if err != nil {
				return nil, fmt.Errorf("load model %s: signature %s: %w", dir, name, err)
			}
			out[name] = j
		}
		return out, nil
	}
	return nil, fmt.Errorf("load model %s: no MetaGraph tagged %q", dir, exported.TagServe)
}
