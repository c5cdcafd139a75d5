package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/internal/atomicfile"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

// A checkpoint is a directory RUN/checkpoints/ckpt-<step>/ holding the variables in TensorFlow's
// tensor-bundle format (model.index, model.data-*) and state.json; RUN/checkpoints/checkpoint.json
// names the latest and the best one. Directories are written under a temporary name, synced and renamed
// into place, and the pointer file is replaced the same way, so a crash leaves the previous checkpoint.
const (
	checkpointsDir = "checkpoints"
	pointerFile    = "checkpoint.json"
	stateFile      = "state.json"
	modelPrefix    = "model"
)

// State is what a resumed run needs besides the variables: where it stopped, the Go-side state of the
// optimiser (update count for Adam, loss scale), the parameter groups and the history of epochs.
type State struct {
	Step        int64   `json:"step"`          // optimisation steps taken
	Epoch       int     `json:"epoch"`         // epochs completed
	StepInEpoch int     `json:"step_in_epoch"` // steps of epoch Epoch+1 already taken (stopped mid-epoch)
	Applied     int64   `json:"applied"`       // updates applied (Step minus skipped mixed-precision steps)
	LossScale   float64 `json:"loss_scale,omitempty"`
	GoodSteps   int     `json:"good_steps,omitempty"` // finite steps since the loss scale last changed
	Seed        int64   `json:"seed"`
	// Net is the architecture the variables belong to; a resume or an export that contradicts it is
	// refused. Checkpoints written before it was recorded have none.
	Net *nets.Config `json:"net,omitempty"`
	// Backbone lists the variables trained at the backbone learning rate (loaded from model.pretrained).
	Backbone     []string `json:"backbone"`
	BestVal      float64  `json:"best_val"`
	BestEpoch    int      `json:"best_epoch"`
	WallSeconds  float64  `json:"wall_seconds"`  // wall time of the run so far, over all sessions
	TrainSeconds float64  `json:"train_seconds"` // time spent in training steps, over all sessions
	// Partial holds the running sums of an epoch stopped midway, so its metrics come out as if it ran
	// through.
	Partial EpochSums      `json:"partial"`
	History []EpochMetrics `json:"history"`
}

// EpochSums are the running training sums of one epoch.
type EpochSums struct {
	Loss     float64 `json:"loss"`    // Σ batch mean loss · batch size
	Correct  int64   `json:"correct"` // top-1 hits
	Images   int64   `json:"images"`
	Seconds  float64 `json:"seconds"`   // time spent in steps
	GradNorm float64 `json:"grad_norm"` // Σ global gradient norm
}

// Pointer is checkpoint.json.
type Pointer struct {
	Latest      string   `json:"latest"`
	Best        string   `json:"best,omitempty"`
	Checkpoints []string `json:"checkpoints"` // oldest first
}

// Checkpointer writes and prunes the checkpoints of one run directory.
type Checkpointer struct {
	Dir   string // RUN/checkpoints
	Keep  int    // the last Keep are kept, and the best besides
	Saver *ops.Saver
}

// Save writes a checkpoint of every variable and st, marks it latest (and best when best is true) and
// prunes old ones. It returns the checkpoint's directory.
func (c *Checkpointer) Save(sess *tf.Session, st *State, best bool) (dir string, err error) {
	name := checkpointName(st.Step)
	final := filepath.Join(c.Dir, name)
	ptr, err := ReadPointer(c.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	defer func() {
		// A failed save (full disk, quota, permissions) must tell the user what is still safe.
		if err == nil {
			return
		}
		if ptr.Latest != "" && ptr.Latest != name {
			err = fmt.Errorf("%s not written: %w\nthe last good checkpoint, %s, is intact: free space, then resume with -resume", name, err, ptr.Latest)
		} else {
			err = fmt.Errorf("%s not written: %w", name, err)
		}
	}()
	if err := c.removeOrphans(ptr); err != nil {
		return "", err
	}
	if ptr.Latest != name {
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		tmp, err := os.MkdirTemp(c.Dir, ".tmp-"+name+"-")
		if err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		defer os.RemoveAll(tmp) // gone after the rename; cleans up after a failure
		if err := c.Saver.SaveTo(sess, filepath.Join(tmp, modelPrefix)); err != nil {
			return "", err
		}
		text, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return "", fmt.Errorf("checkpoint state: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, stateFile), append(text, '\n'), 0o644); err != nil {
			return "", fmt.Errorf("checkpoint state: %w", err)
		}
		if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes 0700
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if err := syncTree(tmp); err != nil {
			return "", err
		}
		if err := os.RemoveAll(final); err != nil { // a stale one from a run that crashed before its pointer
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if err := os.Rename(tmp, final); err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if err := atomicfile.SyncDir(c.Dir); err != nil {
			return "", err
		}
		ptr.Checkpoints = append(slices.DeleteFunc(ptr.Checkpoints, func(s string) bool { return s == name }), name)
	}
	ptr.Latest = name
	if best {
		ptr.Best = name
	}
	// Prune: keep the last Keep and the best.
	var keep, drop []string
	for i, n := range ptr.Checkpoints {
		if i >= len(ptr.Checkpoints)-c.Keep || n == ptr.Best {
			keep = append(keep, n)
		} else {
			drop = append(drop, n)
		}
	}
	ptr.Checkpoints = keep
	if err := writeAtomic(filepath.Join(c.Dir, pointerFile), ptr); err != nil {
		return "", err
	}
	for _, n := range drop {
		if err := os.RemoveAll(filepath.Join(c.Dir, n)); err != nil {
			return "", fmt.Errorf("prune checkpoint: %w", err)
		}
	}
	return final, nil
}

// removeOrphans deletes what a process killed while checkpointing leaves behind: temporary
// directories and files (".tmp-*") and checkpoint directories that checkpoint.json never listed (renamed
// into place just before the kill). Only the process that owns the run directory writes checkpoints, so
// whatever the pointer does not name is garbage.
func (c *Checkpointer) removeOrphans(ptr Pointer) error {
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		orphan := strings.HasPrefix(n, ".tmp-") || (isCheckpointName(n) && e.IsDir() && !slices.Contains(ptr.Checkpoints, n))
		if !orphan {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.Dir, n)); err != nil {
			return fmt.Errorf("checkpoint: remove leftover %s: %w", n, err)
		}
	}
	return nil
}

// ReadPointer reads checkpoint.json of a checkpoints directory. Every name in it must be a checkpoint
// of this directory (ckpt-<step>, no path): a pointer that leads elsewhere is refused, naming the entry,
// so that nothing outside the run is ever read from, resumed from or pruned.
func ReadPointer(dir string) (Pointer, error) {
	var p Pointer
	path := filepath.Join(dir, pointerFile)
	text, err := readRunFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(text, &p); err != nil {
		return Pointer{}, fmt.Errorf("read %s: %w", path, err)
	}
	if err := p.check(); err != nil {
		return Pointer{}, fmt.Errorf("read %s: %w", path, err)
	}
	return p, nil
}

// maxRunFile bounds what is read of a run's own JSON files: they are a few kilobytes, and a damaged or
// replaced one must not exhaust memory.
const maxRunFile = 64 << 20

// readRunFile reads a small regular file of a run directory.
func readRunFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > maxRunFile {
		return nil, fmt.Errorf("read %s: %d bytes, more than a run writes (%d at most)", path, fi.Size(), maxRunFile)
	}
	return os.ReadFile(path)
}

// check refuses entries that are not checkpoint names of this directory, and lists that do not
// hold the latest and best entries.
func (p Pointer) check() error {
	bad := func(entry, name string) error {
		return fmt.Errorf("entry %s = %q is not a checkpoint of this run (want a name like ckpt-000000042 inside the run's checkpoints directory)", entry, name)
	}
	seen := map[string]bool{}
	for i, n := range p.Checkpoints {
		if !isCheckpointName(n) {
			return bad(fmt.Sprintf("checkpoints[%d]", i), n)
		}
		if seen[n] {
			return fmt.Errorf("entry checkpoints[%d] = %q is listed twice", i, n)
		}
		seen[n] = true
	}
	if !isCheckpointName(p.Latest) {
		return bad("latest", p.Latest)
	}
	if !seen[p.Latest] {
		return fmt.Errorf("entry latest = %q is not among checkpoints %v", p.Latest, p.Checkpoints)
	}
	if p.Best != "" {
		if !isCheckpointName(p.Best) {
			return bad("best", p.Best)
		}
		if !seen[p.Best] {
			return fmt.Errorf("entry best = %q is not among checkpoints %v", p.Best, p.Checkpoints)
		}
	}
	return nil
}

// ReadState reads state.json of a checkpoint directory and checks that its fields are consistent, so
// that a hand-edited or damaged file gives an error naming the field rather than a wrong resume.
func ReadState(ckpt string) (*State, error) {
	path := filepath.Join(ckpt, stateFile)
	text, err := readRunFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint state: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(text, st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return st, nil
}

// check reports the first field of a state that no run writes.
func (st *State) check() error {
	nonNegative := []struct {
		name string
		v    int64
	}{
		{"step", st.Step}, {"epoch", int64(st.Epoch)}, {"step_in_epoch", int64(st.StepInEpoch)}, {"applied", st.Applied},
		{"good_steps", int64(st.GoodSteps)}, {"best_epoch", int64(st.BestEpoch)},
		{"partial.correct", st.Partial.Correct}, {"partial.images", st.Partial.Images},
	}
	for _, f := range nonNegative {
		if f.v < 0 {
			return fmt.Errorf("field %s = %d: want a count >= 0", f.name, f.v)
		}
	}
	finite := []struct {
		name string
		v    float64
	}{
		{"loss_scale", st.LossScale}, {"wall_seconds", st.WallSeconds}, {"train_seconds", st.TrainSeconds},
		{"partial.loss", st.Partial.Loss}, {"partial.seconds", st.Partial.Seconds}, {"partial.grad_norm", st.Partial.GradNorm},
	}
	for _, f := range finite {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("field %s = %v: want a finite value >= 0", f.name, f.v)
		}
	}
	switch {
	case st.Applied > st.Step:
		return fmt.Errorf("field applied = %d exceeds step = %d", st.Applied, st.Step)
	case st.Partial.Correct > st.Partial.Images:
		return fmt.Errorf("field partial.correct = %d exceeds partial.images = %d", st.Partial.Correct, st.Partial.Images)
	case st.BestEpoch > st.Epoch:
		return fmt.Errorf("field best_epoch = %d is after epoch = %d", st.BestEpoch, st.Epoch)
	case math.IsNaN(st.BestVal) || st.BestVal < -1 || st.BestVal > 1:
		return fmt.Errorf("field best_val = %v: want an accuracy in [0, 1], or -1 before any validation", st.BestVal)
	case len(st.History) != st.Epoch:
		return fmt.Errorf("field history has %d epochs, but field epoch = %d", len(st.History), st.Epoch)
	case st.StepInEpoch == 0 && st.Partial.Images != 0:
		return fmt.Errorf("field partial.images = %d, but step_in_epoch = 0", st.Partial.Images)
	}
	for i, m := range st.History {
		if m.Epoch != i+1 {
			return fmt.Errorf("field history[%d].epoch = %d, want %d", i, m.Epoch, i+1)
		}
		if m.Step < 0 || m.Step > st.Step || (i > 0 && m.Step < st.History[i-1].Step) {
			return fmt.Errorf("field history[%d].step = %d: want steps that grow up to step = %d", i, m.Step, st.Step)
		}
	}
	if st.Net != nil {
		if err := st.Net.Validate(); err != nil {
			return fmt.Errorf("field net: %w", err)
		}
	}
	return nil
}

// ResolveCheckpoint finds a checkpoint from what a user typed: a run directory, its checkpoints
// directory (the latest, or the best with best), a checkpoint directory, or a variables prefix. It
// returns the checkpoint directory and the variables prefix to restore from.
func ResolveCheckpoint(path string, best bool) (dir, prefix string, err error) {
	if strings.HasSuffix(path, ".index") {
		path = strings.TrimSuffix(path, ".index")
	}
	if _, err := os.Stat(path + ".index"); err == nil {
		return filepath.Dir(path), path, nil
	}
	if _, err := os.Stat(filepath.Join(path, modelPrefix+".index")); err == nil {
		return path, filepath.Join(path, modelPrefix), nil
	}
	for _, cdir := range []string{filepath.Join(path, checkpointsDir), path} {
		ptr, err := ReadPointer(cdir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", damagedPointer(cdir, err)
		}
		name := ptr.Latest
		if best && ptr.Best != "" {
			name = ptr.Best
		}
		d := filepath.Join(cdir, name)
		if err := checkCheckpointDir(d); err != nil {
			return "", "", fmt.Errorf("checkpoint %s: %s names %s: %w", path, pointerFile, name, err)
		}
		return d, filepath.Join(d, modelPrefix), nil
	}
	return "", "", fmt.Errorf("no checkpoint at %s: want a run directory, a checkpoint directory or a variables prefix", path)
}

// RunCheckpoint is the directory of the checkpoint called name in the run directory runDir, after
// checking that name is a checkpoint name (no path) and the directory one of the run's own; a missing
// one gives an error that wraps os.ErrNotExist.
func RunCheckpoint(runDir, name string) (string, error) {
	if !isCheckpointName(name) {
		return "", fmt.Errorf("%q is not a checkpoint of this run (want a name like ckpt-000000042)", name)
	}
	d := filepath.Join(runDir, checkpointsDir, name)
	if _, err := os.Lstat(d); err != nil {
		return "", err
	}
	if err := checkCheckpointDir(d); err != nil {
		return "", fmt.Errorf("%s: %w", d, err)
	}
	return d, nil
}

// checkCheckpointDir checks that d is a checkpoint directory of its own (no symbolic link to another
// place) holding a tensor bundle.
func checkCheckpointDir(d string) error {
	fi, err := os.Lstat(d)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("which is missing")
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("which is not a directory (%s)", fi.Mode().Type())
	}
	if fi, err := os.Lstat(filepath.Join(d, modelPrefix+".index")); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("which holds no %s.index", modelPrefix)
	}
	return nil
}

// damagedPointer is the error for an unreadable checkpoint.json: it names the newest intact checkpoint,
// so that the damage does not hide the checkpoints themselves.
func damagedPointer(cdir string, err error) error {
	intact := IntactCheckpoints(cdir)
	if len(intact) == 0 {
		return fmt.Errorf("%w\nno intact checkpoint was found in %s", err, cdir)
	}
	newest := intact[len(intact)-1]
	runDir := filepath.Dir(cdir)
	return fmt.Errorf("%w\nthe newest intact checkpoint is %s (epoch %d, step %d). Rebuild %s from the %d intact checkpoint(s), keeping the damaged file beside it:\n  go run ./cmd/train -repair -out %s\nor give that checkpoint directory to cmd/eval or cmd/export directly",
		err, filepath.Join(cdir, newest.Name), newest.State.Epoch, newest.State.Step, pointerFile, len(intact), runDir)
}

// Intact is a checkpoint directory whose state and tensor bundle index are readable.
type Intact struct {
	Name  string
	State *State
}

// IntactCheckpoints lists the checkpoints of a checkpoints directory whose state.json passes its checks
// and whose tensor bundle index exists, oldest (lowest step) first.
func IntactCheckpoints(cdir string) []Intact {
	entries, err := os.ReadDir(cdir)
	if err != nil {
		return nil
	}
	var out []Intact
	for _, e := range entries {
		if !isCheckpointName(e.Name()) {
			continue
		}
		d := filepath.Join(cdir, e.Name())
		if checkCheckpointDir(d) != nil {
			continue
		}
		st, err := ReadState(d)
		if err != nil {
			continue
		}
		out = append(out, Intact{Name: e.Name(), State: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].State.Step < out[j].State.Step })
	return out
}

// RepairPointer rebuilds RUN/checkpoints/checkpoint.json from the intact checkpoints when it is missing or
// damaged: the newest becomes latest, and best is the checkpoint of the best validation epoch that the
// newest records, when it is still there. A damaged file is kept as checkpoint.json.damaged-<time>.
// It takes the run's lock, so it refuses a run that a process is training.
func RepairPointer(runDir string) (Pointer, error) {
	lock, err := lockRunDir(runDir, true)
	if err != nil {
		return Pointer{}, fmt.Errorf("repair: %w", err)
	}
	defer lock.Release()
	cdir := filepath.Join(runDir, checkpointsDir)
	if _, err := ReadPointer(cdir); err == nil {
		return Pointer{}, fmt.Errorf("repair: %s is intact; nothing to repair", filepath.Join(cdir, pointerFile))
	}
	intact := IntactCheckpoints(cdir)
	if len(intact) == 0 {
		return Pointer{}, fmt.Errorf("repair: no intact checkpoint in %s", cdir)
	}
	newest := intact[len(intact)-1].State
	var p Pointer
	for _, c := range intact {
		p.Checkpoints = append(p.Checkpoints, c.Name)
		st := c.State
		if newest.BestEpoch > 0 && st.Epoch == newest.BestEpoch && st.StepInEpoch == 0 {
			p.Best = c.Name
		}
	}
	p.Latest = p.Checkpoints[len(p.Checkpoints)-1]
	path := filepath.Join(cdir, pointerFile)
	if _, err := os.Lstat(path); err == nil {
		kept := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, kept); err != nil {
			return Pointer{}, fmt.Errorf("repair: keep the damaged %s: %w", path, err)
		}
	}
	if err := writeAtomic(path, p); err != nil {
		return Pointer{}, fmt.Errorf("repair: %w", err)
	}
	return p, nil
}

// writeAtomic writes v as JSON to path through a synced temporary file and a rename.
func writeAtomic(path string, v any) error {
	text, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFileAtomic(path, append(text, '\n'))
}

// writeFileAtomic writes a run's file so that a kill leaves the old one or the new one (atomicfile).
func writeFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data) }

// syncTree fsyncs every file of dir and dir itself.
func syncTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("sync %s: %w", n, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", filepath.Join(dir, n), err)
		}
	}
	return atomicfile.SyncDir(dir)
}

// CheckArchitecture refuses to use the checkpoint in ckptDir as a model other than the one it was
// trained as: net (from a configuration, overrides and a label list) must build the same variables and
// compute the same function. A checkpoint without state.json, or one written before architectures were
// recorded, is not checked.
func CheckArchitecture(ckptDir string, net nets.Config) error {
	if _, err := os.Lstat(filepath.Join(ckptDir, stateFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, err := ReadState(ckptDir)
	if err != nil {
		return err
	}
	if st.Net == nil {
		return nil
	}
	if diff := st.Net.ArchitectureDiff(net); len(diff) > 0 {
		return fmt.Errorf("checkpoint %s was trained as another model than the one asked for (checkpoint vs asked):\n  %s\ndrop the -set overrides, environment variables or labels that change the model, or train a model with these settings", ckptDir, strings.Join(diff, "\n  "))
	}
	return nil
}
