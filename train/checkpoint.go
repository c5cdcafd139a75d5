package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"

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
	name := fmt.Sprintf("ckpt-%09d", st.Step)
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
		if err := syncDir(c.Dir); err != nil {
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
		orphan := strings.HasPrefix(n, ".tmp-") || (strings.HasPrefix(n, "ckpt-") && e.IsDir() && !slices.Contains(ptr.Checkpoints, n))
		if !orphan {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.Dir, n)); err != nil {
			return fmt.Errorf("checkpoint: remove leftover %s: %w", n, err)
		}
	}
	return nil
}

// ReadPointer reads checkpoint.json of a checkpoints directory.
func ReadPointer(dir string) (Pointer, error) {
	var p Pointer
	text, err := os.ReadFile(filepath.Join(dir, pointerFile))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(text, &p); err != nil {
		return p, fmt.Errorf("read %s: %w", filepath.Join(dir, pointerFile), err)
	}
	return p, nil
}

// ReadState reads state.json of a checkpoint directory.
func ReadState(ckpt string) (*State, error) {
	text, err := os.ReadFile(filepath.Join(ckpt, stateFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint state: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(text, st); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(ckpt, stateFile), err)
	}
	return st, nil
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
		if err != nil {
			continue
		}
		name := ptr.Latest
		if best && ptr.Best != "" {
			name = ptr.Best
		}
		d := filepath.Join(cdir, name)
		if _, err := os.Stat(filepath.Join(d, modelPrefix+".index")); err != nil {
			return "", "", fmt.Errorf("checkpoint %s: %s names %s, which is missing", path, pointerFile, name)
		}
		return d, filepath.Join(d, modelPrefix), nil
	}
	return "", "", fmt.Errorf("no checkpoint at %s: want a run directory, a checkpoint directory or a variables prefix", path)
}

// writeAtomic writes v as JSON to path through a synced temporary file and a rename.
func writeAtomic(path string, v any) error {
	text, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFileAtomic(path, append(text, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600; results are for everyone to read
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

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
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
