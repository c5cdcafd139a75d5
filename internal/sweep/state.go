package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Files of a run directory (the run-directory contract of package train) that the sweep reads or writes.
const (
	SummaryFile    = "summary.json"
	CheckpointsDir = "checkpoints"
	LogFile        = "train.log"
)

// State is what a run directory says about its run.
type State int

const (
	// New: no run directory, or an empty one; the run starts from the beginning.
	New State = iota
	// Restart: a run directory without a checkpoint or a summary (a run that failed or was stopped
	// before its first checkpoint). It is cleared, its train.log kept, and the run starts over.
	Restart
	// Resume: RUN/checkpoints holds a checkpoint but there is no summary; the run goes on with -resume.
	Resume
	// Done: RUN/summary.json exists; the run is skipped.
	Done
)

func (s State) String() string {
	switch s {
	case New:
		return "new"
	case Restart:
		return "restart"
	case Resume:
		return "resume"
	case Done:
		return "done"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Inspect reads the state of the run directory dir; a directory that does not exist is New.
func Inspect(dir string) (State, error) {
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err == nil {
		return Done, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return New, fmt.Errorf("inspect run %s: %w", dir, err)
	}
	top, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return New, nil
	}
	if err != nil {
		return New, fmt.Errorf("inspect run %s: %w", dir, err)
	}
	if len(top) == 0 {
		return New, nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, CheckpointsDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return New, fmt.Errorf("inspect run %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name()[0] != '.' {
			return Resume, nil
		}
	}
	return Restart, nil
}

// runMarkers are the files of which a directory needs one to be cleared for a restart: the trainer's
// (package train writes config.yaml first, then metrics.jsonl and checkpoints/) and the sweep's log.
var runMarkers = []string{"config.yaml", "metrics.jsonl", CheckpointsDir, LogFile}

// clearForRestart removes the run directory of a Restart run and returns the text of its train.log, so
// that the log of the new attempt goes on from it. A directory with none of runMarkers is not the
// sweep's to delete.
func clearForRestart(dir string) ([]byte, error) {
	known := false
	for _, m := range runMarkers {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			known = true
		}
	}
	if !known {
		return nil, fmt.Errorf("run directory %s holds none of %v: not a run, not deleting it; move it away", dir, runMarkers)
	}
	old, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restart: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("restart: clear %s: %w", dir, err)
	}
	return old, nil
}

// summaryTop1 reads test_top1 from a run's summary.json.
func summaryTop1(dir string) (float64, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var s struct {
		TestTop1 *float64 `json:"test_top1"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	if s.TestTop1 == nil {
		return 0, fmt.Errorf("read %s: no test_top1", path)
	}
	return *s.TestTop1, nil
}
