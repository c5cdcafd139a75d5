package train

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// Pick says which checkpoint of a run directory a command uses (cmd/eval, cmd/export). Every command
// that takes a run directory picks by the same rule, so that evaluating and exporting a run act on the
// same weights unless asked otherwise.
type Pick int

const (
	// PickSelected is the checkpoint the run itself selected by train.selection and evaluated on the
	// test split: summary.json's checkpoint. Before the run finished (no summary.json), the one the
	// same rule selects so far: checkpoint.json's best (recorded with train.selection best_val), else
	// the latest.
	PickSelected Pick = iota
	// PickBest is checkpoint.json's best: the best validation top-1 so far.
	PickBest
	// PickLatest is the last checkpoint written.
	PickLatest
)

func (p Pick) String() string {
	switch p {
	case PickBest:
		return "best"
	case PickLatest:
		return "latest"
	}
	return "selected"
}

// PickFlags are the -best and -latest flags of the commands that take a run directory; without either
// they use PickSelected.
type PickFlags struct {
	Best, Latest bool
}

// Register adds -best and -latest to fs, with the same help text in every command.
func (f *PickFlags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.Best, "best", false, "with a run directory: its best checkpoint by validation top-1 (checkpoint.json's best) instead of the one the run selected and evaluated (summary.json's checkpoint, the default)")
	fs.BoolVar(&f.Latest, "latest", false, "with a run directory: its latest checkpoint instead of the one the run selected and evaluated (summary.json's checkpoint, the default)")
}

// Pick is the choice the flags make.
func (f PickFlags) Pick() (Pick, error) {
	switch {
	case f.Best && f.Latest:
		return 0, errors.New("-best and -latest exclude each other: give one, or neither for the checkpoint the run selected")
	case f.Best:
		return PickBest, nil
	case f.Latest:
		return PickLatest, nil
	}
	return PickSelected, nil
}

// PickCheckpoint resolves path as ResolveCheckpoint does, choosing among the checkpoints of a run
// directory (or of its checkpoints directory) by pick; a checkpoint directory or variables prefix names
// one checkpoint and pick does not apply. why says which checkpoint was taken and by what rule, for the
// command to print; it is empty when path named the checkpoint itself.
func PickCheckpoint(path string, pick Pick) (dir, prefix, why string, err error) {
	runDir := ""
	switch {
	case existsPath(filepath.Join(path, checkpointsDir, pointerFile)):
		runDir = path
	case filepath.Base(filepath.Clean(path)) == checkpointsDir && existsPath(filepath.Join(path, pointerFile)):
		runDir = filepath.Dir(filepath.Clean(path))
	}
	if runDir == "" {
		dir, prefix, err = ResolveCheckpoint(path, false)
		return dir, prefix, "", err
	}
	cdir := filepath.Join(runDir, checkpointsDir)
	// Whatever is picked, a pointer that is damaged or leads outside the run is refused first.
	ptr, err := ReadPointer(cdir)
	if err != nil {
		return "", "", "", damagedPointer(cdir, err)
	}
	switch pick {
	case PickLatest:
		dir, prefix, err = ResolveCheckpoint(runDir, false)
		return dir, prefix, fmt.Sprintf("%s: the run's latest checkpoint (-latest)", ptr.Latest), err
	case PickBest:
		if ptr.Best == "" {
			return "", "", "", fmt.Errorf("-best: %s records no best checkpoint (the run has no validation result: train.selection last or data.val_fraction 0); leave -best out for the checkpoint the run selected, or use -latest", filepath.Join(cdir, pointerFile))
		}
		dir, prefix, err = ResolveCheckpoint(runDir, true)
		return dir, prefix, fmt.Sprintf("%s: the run's best checkpoint by validation top-1 (-best)", ptr.Best), err
	}
	name, err := summaryCheckpoint(runDir)
	if err != nil {
		return "", "", "", err
	}
	fallback := func(reason string) (string, string, string, error) {
		dir, prefix, err := ResolveCheckpoint(runDir, true)
		which := "its latest"
		if ptr.Best != "" {
			which = "its best by validation top-1 so far"
		}
		return dir, prefix, fmt.Sprintf("%s: %s, %s", filepath.Base(dir), reason, which), err
	}
	if name == "" {
		return fallback("the run has not finished (no summary.json)")
	}
	d, err := RunCheckpoint(runDir, name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fallback(fmt.Sprintf("summary.json's checkpoint %s has been pruned since", name))
	case err != nil:
		return "", "", "", fmt.Errorf("%s: entry checkpoint: %w", filepath.Join(runDir, "summary.json"), err)
	}
	return d, filepath.Join(d, modelPrefix), fmt.Sprintf("%s: the checkpoint the run selected and evaluated (summary.json)", name), nil
}

// summaryCheckpoint is the name of the checkpoint that runDir/summary.json evaluated, or "" without a
// summary.
func summaryCheckpoint(runDir string) (string, error) {
	path := filepath.Join(runDir, "summary.json")
	text, err := readRunFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var s struct {
		Checkpoint string `json:"checkpoint"`
	}
	if err := json.Unmarshal(text, &s); err != nil {
		return "", fmt.Errorf("read %s: %w (it is rewritten when the run finishes: -resume it, or pick -latest or -best)", path, err)
	}
	if s.Checkpoint == "" {
		return "", nil
	}
	// An absolute or working-directory-relative path when it was written: the name is what identifies it.
	return filepath.Base(s.Checkpoint), nil
}

func existsPath(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
