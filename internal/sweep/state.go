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
	// New: nothing to keep; the run starts from the beginning.
	New State = iota
	// Resume: RUN/checkpoints holds a checkpoint but there is no summary; the run goes on with -resume.
	Resume
	// Done: RUN/summary.json exists; the run is skipped.
	Done
)

func (s State) String() string {
	switch s {
	case New:
		return "new"
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
	entries, err := os.ReadDir(filepath.Join(dir, CheckpointsDir))
	if errors.Is(err, os.ErrNotExist) {
		return New, nil
	}
	if err != nil {
		return New, fmt.Errorf("inspect run %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name()[0] != '.' {
			return Resume, nil
		}
	}
	return New, nil
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
