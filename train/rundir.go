package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/finegrain/finegrain/internal/dirlock"
)

// The layout of a run directory, and the rules that keep a run inside it: every name a run reads from
// its own files must be one it writes, and -force deletes only what a run writes.
const (
	lockFile = ".lock" // held by the one process that writes the run (internal/dirlock)
)

// runFiles are the plain files a run writes at the top of its directory.
var runFiles = map[string]bool{
	"config.yaml": true, "metrics.jsonl": true, "metrics.csv": true, "summary.json": true,
	"confusion_test.csv": true, "per_class_test.csv": true, "pretrained.json": true, lockFile: true,
}

var (
	checkpointNameRE = regexp.MustCompile(`^ckpt-[0-9]{9,19}$`)
	// A checkpoint directory holds TensorFlow's tensor bundle (model.index, model.data-00000-of-00001)
	// and state.json.
	bundleFileRE = regexp.MustCompile(`^` + modelPrefix + `\.(index|data-[0-9]{5}-of-[0-9]{5})$`)
	eventFileRE  = regexp.MustCompile(`^events\.out\.tfevents\.[0-9]+\..+$`)
)

// checkpointName is the name of the checkpoint of step.
func checkpointName(step int64) string { return fmt.Sprintf("ckpt-%09d", step) }

// isCheckpointName reports whether name is one the Checkpointer gives its checkpoints (ckpt-<step>).
func isCheckpointName(name string) bool { return checkpointNameRE.MatchString(name) }

// lockRunDir creates dir if needed (unless resume, which needs it to exist) and takes the run's lock.
func lockRunDir(dir string, resume bool) (*dirlock.Lock, error) {
	switch _, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist) && resume:
		return nil, fmt.Errorf("-resume: run directory %s does not exist", dir)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("run directory: %w", err)
	}
	l, err := dirlock.Acquire(filepath.Join(dir, lockFile))
	if err != nil {
		var held *dirlock.HeldError
		switch {
		case errors.As(err, &held):
			return nil, fmt.Errorf("run directory %s is in use: %w", dir, err)
		case resume && errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("-resume: %s is not writable: %w", dir, err)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("run directory %s is not writable: %w", dir, err)
		}
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return l, nil
}

// foreignEntries lists, relative to dir, what in a run directory a run did not write: anything -force
// must not delete. Symbolic links are foreign wherever they are (a run writes none).
func foreignEntries(dir string) ([]string, error) {
	var foreign []string
	add := func(rel string, d fs.DirEntry) {
		if d.IsDir() {
			rel += "/"
		}
		foreign = append(foreign, rel)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			add(n, e)
		case strings.HasPrefix(n, ".tmp-") && e.Type().IsRegular():
		case runFiles[n] && e.Type().IsRegular():
		case n == checkpointsDir && e.IsDir():
			f, err := foreignIn(filepath.Join(dir, n), n, checkpointEntryOK)
			if err != nil {
				return nil, err
			}
			foreign = append(foreign, f...)
		case n == "events" && e.IsDir():
			f, err := foreignIn(filepath.Join(dir, n), n, func(_ string, e fs.DirEntry) (bool, error) {
				return e.Type().IsRegular() && eventFileRE.MatchString(e.Name()), nil
			})
			if err != nil {
				return nil, err
			}
			foreign = append(foreign, f...)
		default:
			add(n, e)
		}
	}
	sort.Strings(foreign)
	return foreign, nil
}

// foreignIn lists the entries of dir (shown as rel/name) that ok rejects; ok may accept a directory as
// a whole after checking it.
func foreignIn(dir, rel string, ok func(path string, e fs.DirEntry) (bool, error)) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	var foreign []string
	for _, e := range entries {
		good := false
		if e.Type()&fs.ModeSymlink == 0 {
			if good, err = ok(filepath.Join(dir, e.Name()), e); err != nil {
				return nil, err
			}
		}
		if !good {
			name := rel + "/" + e.Name()
			if e.IsDir() {
				name += "/"
			}
			foreign = append(foreign, name)
		}
	}
	return foreign, nil
}

// checkpointEntryOK accepts what a Checkpointer writes in RUN/checkpoints: checkpoint.json, the
// damaged copies that RepairPointer keeps, temporary files and directories, and checkpoint directories
// holding only a tensor bundle and state.json.
func checkpointEntryOK(path string, e fs.DirEntry) (bool, error) {
	n := e.Name()
	switch {
	case n == pointerFile, strings.HasPrefix(n, pointerFile+".damaged-"):
		return e.Type().IsRegular(), nil
	case strings.HasPrefix(n, ".tmp-"), isCheckpointName(n):
		if !e.IsDir() {
			return strings.HasPrefix(n, ".tmp-") && e.Type().IsRegular(), nil
		}
		inner, err := os.ReadDir(path)
		if err != nil {
			return false, fmt.Errorf("run directory: %w", err)
		}
		for _, f := range inner {
			if !f.Type().IsRegular() || !(f.Name() == stateFile || bundleFileRE.MatchString(f.Name())) {
				return false, nil
			}
		}
		return true, nil
	}
	return false, nil
}

// clearRunDir deletes what a run wrote in dir for -force, after checking that dir holds nothing else;
// the lock file, held by this process, stays.
func clearRunDir(dir string) error {
	foreign, err := foreignEntries(dir)
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		shown := foreign
		if len(shown) > 12 {
			shown = append(shown[:12:12], fmt.Sprintf("... and %d more", len(foreign)-12))
		}
		return fmt.Errorf("-force: %s holds files a training run does not write, so it is not deleted:\n  %s\nmove them away, or train into another directory with -out", dir, strings.Join(shown, "\n  "))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("-force: %w", err)
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("-force: %w", err)
		}
	}
	return nil
}
