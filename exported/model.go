package exported

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	_ "image/gif" // header checks of encoded inputs
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	npb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/safefile"
)

// Model is a loaded SavedModel ready for inference. Its methods are safe for concurrent use.
type Model struct {
	dir      string
	sess     *tf.Session
	size     int
	classes  int
	labels   []string
	meta     Metadata
	serve    entry
	jpeg     *entry // nil when the model has no predict_jpeg signature
	mu       sync.RWMutex
	closed   bool
	maxPixel int
}

// entry is one signature resolved to graph tensors.
type entry struct {
	input              tf.Output
	logits, probs, cam tf.Output
}

// Option changes how Load opens a model.
type Option func(*loadOptions)

type loadOptions struct {
	session   ops.SessionConfig
	maxPixels int
}

// WithSessionConfig sets the session's threads, XLA and GPU settings (default ops.DefaultSessionConfig).
func WithSessionConfig(cfg ops.SessionConfig) Option { return func(o *loadOptions) { o.session = cfg } }

// WithMaxPixels refuses encoded images whose header declares more pixels than n before decoding them
// (default pipeline.DefaultMaxPixels, PIL's decompression-bomb limit; n <= 0 means no limit).
func WithMaxPixels(n int) Option { return func(o *loadOptions) { o.maxPixels = n } }

// Load opens the SavedModel in dir (tag "serve") with its labels and metadata. A missing or corrupt
// directory, or a SavedModel without the serving_default signature this package writes, is an error
// naming the directory and what is wrong.
func Load(dir string, opts ...Option) (m *Model, err error) {
	o := loadOptions{session: ops.DefaultSessionConfig(), maxPixels: pipeline.DefaultMaxPixels}
	for _, opt := range opts {
		opt(&o)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("load model %s: %s", dir, fmt.Sprintf(format, args...))
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	} else if !st.IsDir() {
		return nil, fail("not a directory")
	}
	pbBytes, err := safefile.Read(context.Background(), filepath.Join(dir, "saved_model.pb"), maxGraphFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fail("no saved_model.pb: not a SavedModel directory")
	} else if err != nil {
		return nil, fail("%v", err)
	}
	// Parsing here gives a clearer message for a damaged file than the C++ loader does.
	var saved pb.SavedModel
	if err := proto.Unmarshal(pbBytes, &saved); err != nil {
		return nil, fail("saved_model.pb is corrupt: %v", err)
	}
	var tagSets [][]string
	for _, mg := range saved.GetMetaGraphs() {
		tagSets = append(tagSets, mg.GetMetaInfoDef().GetTags())
	}
	i := slices.IndexFunc(tagSets, func(tags []string) bool { return slices.Contains(tags, TagServe) })
	if i < 0 {
		return nil, fail("saved_model.pb has no MetaGraph tagged %q (tag sets %v)", TagServe, tagSets)
	}
	// TensorFlow's loader accepts a SavedModel without variables and leaves them uninitialised, which
	// would only fail at the first prediction. A frozen model (WriteOptimized) has none to restore.
	_, err = os.Stat(filepath.Join(dir, "variables", "variables.index"))
	if err != nil && hasVariables(saved.GetMetaGraphs()[i]) {
		return nil, fail("no variables/variables.index: the weights are missing")
	}
	sopts, err := o.session.Options()
	if err != nil {
		return nil, fail("%v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fail("TensorFlow failed: %v", r)
		}
	}()
	sm, err := tf.LoadSavedModel(dir, []string{TagServe}, sopts)
	if err != nil {
		return nil, fail("%v", firstLine(err))
	}
	m = &Model{dir: dir, sess: sm.Session, maxPixel: o.maxPixels}
	defer func() {
		if err != nil {
			sm.Session.Close()
		}
	}()
	serve, ok := sm.Signatures[ServingDefault]
	if !ok {
		return nil, fail("no %s signature (has %v)", ServingDefault, sortedKeys(sm.Signatures))
	}
	if m.serve, err = resolve(sm.Graph, ServingDefault, serve, InputImages, tf.Float); err != nil {
		return nil, fail("%v", err)
	}
	shape := serve.Inputs[InputImages].Shape
	if shape.NumDimensions() != 4 || shape.Size(1) <= 0 || shape.Size(1) != shape.Size(2) || shape.Size(3) != 3 {
		return nil, fail("input %s has shape %v, want [N, S, S, 3]", InputImages, shape)
	}
	m.size = int(shape.Size(1))
	if jpeg, ok := sm.Signatures[PredictJPEG]; ok {
		e, err := resolve(sm.Graph, PredictJPEG, jpeg, InputBytes, tf.String)
		if err != nil {
			return nil, fail("%v", err)
		}
		m.jpeg = &e
	}
	if k := serve.Outputs[OutputLogits].Shape; k.NumDimensions() == 2 && k.Size(1) > 0 {
		m.classes = int(k.Size(1))
	}
	if b, err := safefile.Read(context.Background(), filepath.Join(dir, "assets", MetadataFile), maxAssetFile); err == nil {
		if err := json.Unmarshal(b, &m.meta); err != nil {
			return nil, fail("assets/%s: %v", MetadataFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fail("%v", err)
	}
	b, err := safefile.Read(context.Background(), filepath.Join(dir, "assets", LabelsFile), maxAssetFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fail("%v", err)
	}
	if err == nil {
		m.labels = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if m.classes > 0 && len(m.labels) != m.classes {
			return nil, fail("assets/%s has %d labels for %d classes", LabelsFile, len(m.labels), m.classes)
		}
		m.classes = len(m.labels)
	}
	return m, nil
}

func resolve(g *tf.Graph, name string, sig tf.Signature, input string, dtype tf.DataType) (entry, error) {
	get := func(kind string, infos map[string]tf.TensorInfo, key string) (tf.Output, error) {
		info, ok := infos[key]
		if !ok {
			return tf.Output{}, fmt.Errorf("signature %s has no %s %q", name, kind, key)
		}
		opName, idx := info.Name, 0
		if i := strings.LastIndexByte(info.Name, ':'); i >= 0 {
			opName = info.Name[:i]
			if _, err := fmt.Sscanf(info.Name[i+1:], "%d", &idx); err != nil {
				return tf.Output{}, fmt.Errorf("signature %s: bad tensor name %q", name, info.Name)
			}
		}
		o := g.Operation(opName)
		if o == nil || idx >= o.NumOutputs() {
			return tf.Output{}, fmt.Errorf("signature %s: %s %s names tensor %s, which the graph lacks", name, kind, key, info.Name)
		}
		return o.Output(idx), nil
	}
	var e entry
	var err error
	if e.input, err = get("input", sig.Inputs, input); err != nil {
		return e, err
	}
	if dt := sig.Inputs[input].DType; dt != dtype {
		return e, fmt.Errorf("signature %s: input %s has dtype %v, want %v", name, input, dt, dtype)
	}
	for key, dst := range map[string]*tf.Output{OutputLogits: &e.logits, OutputProbs: &e.probs, OutputCAM: &e.cam} {
		if *dst, err = get("output", sig.Outputs, key); err != nil {
			return e, err
		}
	}
	return e, nil
}

// Dir is the directory the model was loaded from.
func (m *Model) Dir() string { return m.dir }

// InputSize is the side S of the images input [N, S, S, 3].
func (m *Model) InputSize() int { return m.size }

// NumClasses is the number of classes K.
func (m *Model) NumClasses() int { return m.classes }

// Labels returns the class names in class-id order (nil when the model has no labels.txt).
func (m *Model) Labels() []string { return append([]string(nil), m.labels...) }

// Label is the name of class k, or "class_k" when the model has no such label.
func (m *Model) Label(k int) string {
	if k >= 0 && k < len(m.labels) {
		return m.labels[k]
	}
	return fmt.Sprintf("class_%d", k)
}

// Metadata is the model's assets/metadata.json (zero when absent).
func (m *Model) Metadata() Metadata { return m.meta }

// Close releases the session. It waits for predictions in flight; later calls fail.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.sess.Close()
}

// ErrClosed is returned by predictions on a closed Model or Batcher.
var ErrClosed = errors.New("exported: model closed")

// Images is a batch of N RGB images, float32 NHWC with values in 0..255, row-major without padding:
// the layout of the pipeline's batches and of the images input.
type Images struct {
	N, Height, Width int
	Pix              []float32 // len N·Height·Width·3
}

// Prediction holds a batch's outputs, one row per image.
type Prediction struct {
	Logits        [][]float32     // [N][K]
	Probabilities [][]float32     // [N][K]
	CAM           [][][][]float32 // [N][h][w][K]; only with WithCAM
}

// PredictOption changes what a prediction computes.
type PredictOption func(*predictOptions)

type predictOptions struct{ cam bool }

// WithCAM also computes the class activation maps.
func WithCAM() PredictOption { return func(o *predictOptions) { o.cam = true } }

// Predict classifies a batch of images of the model's input size.
func (m *Model) Predict(ctx context.Context, images Images, opts ...PredictOption) (*Prediction, error) {
	if err := m.checkImages(images); err != nil {
		return nil, err
	}
	t, err := tf.NewTensor(images.Pix)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	if err := t.Reshape([]int64{int64(images.N), int64(m.size), int64(m.size), 3}); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	p, err := m.run(ctx, m.serve, t, opts)
	return p, wrapPredict(err)
}

func (m *Model) checkImages(images Images) error {
	if images.N < 0 || images.Height != m.size || images.Width != m.size || len(images.Pix) != images.N*images.Height*images.Width*3 {
		return fmt.Errorf("predict: input %s: batch %d×%d×%d×3 with %d values, model wants N×%d×%d×3 (N·%d values)",
			InputImages, images.N, images.Height, images.Width, len(images.Pix), m.size, m.size, m.size*m.size*3)
	}
	return nil
}

// PredictTensor classifies images given as a tensor, which must be float32 [N, S, S, 3].
func (m *Model) PredictTensor(ctx context.Context, images *tf.Tensor, opts ...PredictOption) (*Prediction, error) {
	if images == nil {
		return nil, fmt.Errorf("predict: input %s: nil tensor", InputImages)
	}
	if images.DataType() != tf.Float {
		return nil, fmt.Errorf("predict: input %s has dtype %s, want float32", InputImages, dtypeName(images.DataType()))
	}
	sh := images.Shape()
	if len(sh) != 4 || sh[1] != int64(m.size) || sh[2] != int64(m.size) || sh[3] != 3 {
		return nil, fmt.Errorf("predict: input %s has shape %v, want [N %d %d 3]", InputImages, sh, m.size, m.size)
	}
	p, err := m.run(ctx, m.serve, images, opts)
	return p, wrapPredict(err)
}

// ImageError reports an encoded image of a batch that cannot be decoded.
type ImageError struct {
	Index int // position in the batch
	Err   error
}

func (e *ImageError) Error() string { return fmt.Sprintf("image %d: %v", e.Index, e.Err) }

func (e *ImageError) Unwrap() error { return e.Err }

// PredictEncoded classifies encoded images (JPEG, PNG or single-frame GIF) with the predict_jpeg signature,
// which decodes, resizes and crops them in the graph. An image that cannot be decoded makes the whole
// call fail with an *ImageError giving its index.
func (m *Model) PredictEncoded(ctx context.Context, encoded [][]byte, opts ...PredictOption) (*Prediction, error) {
	if m.jpeg == nil {
		return nil, fmt.Errorf("predict: model %s has no %s signature", m.dir, PredictJPEG)
	}
	for i, b := range encoded {
		if err := m.checkHeader(b); err != nil {
			return nil, wrapPredict(&ImageError{Index: i, Err: err})
		}
	}
	t, err := stringTensor(encoded)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	p, err := m.run(ctx, *m.jpeg, t, opts)
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return p, wrapPredict(err)
	}
	if len(encoded) == 1 {
		return nil, wrapPredict(&ImageError{Index: 0, Err: err})
	}
	// The batch's error does not say which image failed: find the first one that fails alone.
	for i, b := range encoded {
		one, _ := stringTensor([][]byte{b})
		if _, e := m.run(ctx, *m.jpeg, one, nil); e != nil && ctx.Err() == nil {
			return nil, wrapPredict(&ImageError{Index: i, Err: e})
		}
	}
	return nil, wrapPredict(err)
}

func wrapPredict(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("predict: %w", err)
}

func stringTensor(encoded [][]byte) (*tf.Tensor, error) {
	s := make([]string, len(encoded))
	for i, b := range encoded {
		s[i] = string(b)
	}
	return tf.NewTensor(s)
}

// Bounds on what Load reads itself: a protocol buffer cannot exceed 2 GiB, and the assets are a
// label list and a small JSON file.
const (
	maxGraphFile = 2 << 30
	maxAssetFile = 64 << 20
)

// checkHeader refuses, before TensorFlow decodes anything, data that is not an image, images over the
// pixel limit (every frame of a GIF counted), and what the graph's decoder cannot read: it takes
// JPEG, PNG and single-frame GIF only (DecodeJpeg refuses BMP, WebP and animated GIFs).
func (m *Model) checkHeader(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	cfg, err := pipeline.DecodeConfig(b, m.maxPixel)
	switch {
	case err != nil:
		return err
	case cfg.Format != "jpeg" && cfg.Format != "png" && cfg.Format != "gif":
		return fmt.Errorf("a %s image: the %s signature decodes JPEG, PNG and single-frame GIF; decode it in Go (pipeline.DecodeFile, as cmd/predict does) and call Predict", strings.ToUpper(cfg.Format), PredictJPEG)
	case cfg.Frames > 1:
		return fmt.Errorf("an animated GIF (%d frames): the %s signature decodes single-frame images; decode its first frame in Go (pipeline.DecodeFile) and call Predict", cfg.Frames, PredictJPEG)
	}
	return nil
}

func (m *Model) run(ctx context.Context, e entry, input *tf.Tensor, opts []PredictOption) (*Prediction, error) {
	var o predictOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sh := input.Shape(); len(sh) > 0 && sh[0] == 0 {
		// Nothing to compute; and oneDNN's convolution refuses an empty batch on some CPUs.
		p := &Prediction{Logits: [][]float32{}, Probabilities: [][]float32{}}
		if o.cam {
			p.CAM = [][][][]float32{}
		}
		return p, nil
	}
	fetches := []tf.Output{e.logits, e.probs}
	if o.cam {
		fetches = append(fetches, e.cam)
	}
	type result struct {
		out []*tf.Tensor
		err error
	}
	done := make(chan result, 1)
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	go func() {
		defer m.mu.RUnlock()
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("TensorFlow failed: %v", r)}
			}
		}()
		out, err := m.sess.Run(map[tf.Output]*tf.Tensor{e.input: input}, fetches, nil)
		done <- result{out, err}
	}()
	var r result
	select {
	case <-ctx.Done():
		return nil, ctx.Err() // the session finishes the batch in the background
	case r = <-done:
	}
	if r.err != nil {
		return nil, errors.New(firstLine(r.err))
	}
	p := &Prediction{}
	var ok bool
	if p.Logits, ok = r.out[0].Value().([][]float32); !ok {
		return nil, fmt.Errorf("output %s is %T, want [][]float32", OutputLogits, r.out[0].Value())
	}
	if p.Probabilities, ok = r.out[1].Value().([][]float32); !ok {
		return nil, fmt.Errorf("output %s is %T, want [][]float32", OutputProbs, r.out[1].Value())
	}
	if o.cam {
		if p.CAM, ok = r.out[2].Value().([][][][]float32); !ok {
			return nil, fmt.Errorf("output %s is %T, want [][][][]float32", OutputCAM, r.out[2].Value())
		}
	}
	return p, nil
}

// Class is one entry of a top-k list.
type Class struct {
	ID          int     `json:"class_id"`
	Label       string  `json:"label"`
	Probability float32 `json:"probability"`
}

// TopK returns the k most probable classes of one row of probabilities, most probable first (ties by
// class id).
func (m *Model) TopK(probs []float32, k int) []Class {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	k = min(max(k, 0), len(idx))
	out := make([]Class, k)
	for i, c := range idx[:k] {
		out[i] = Class{ID: c, Label: m.Label(c), Probability: probs[c]}
	}
	return out
}

// firstLine drops TensorFlow's multi-line op context from an error message.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// dtypeName names the tensor types a caller may pass by mistake.
func dtypeName(dt tf.DataType) string {
	names := map[tf.DataType]string{tf.Float: "float32", tf.Double: "float64", tf.Int32: "int32", tf.Int64: "int64",
		tf.Uint8: "uint8", tf.Int8: "int8", tf.Int16: "int16", tf.Uint16: "uint16", tf.Half: "float16", tf.String: "string", tf.Bool: "bool"}
	if n, ok := names[dt]; ok {
		return n
	}
	return fmt.Sprintf("dtype %d", int(dt))
}

// hasVariables reports whether a MetaGraph's graph holds variables, which a checkpoint must fill.
func hasVariables(mg *pb.MetaGraphDef) bool {
	return mg.GetSaverDef() != nil || slices.ContainsFunc(mg.GetGraphDef().GetNode(), func(n *npb.NodeDef) bool {
		return n.GetOp() == "VarHandleOp" || n.GetOp() == "VariableV2"
	})
}
