package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

// Summary is RUN/summary.json (the run-directory contract of package train). Accuracies are fractions.
type Summary struct {
	NumClasses       int     `json:"num_classes"`
	TestTop1         float64 `json:"test_top1"`
	TestTop5         float64 `json:"test_top5"`
	TestMeanClassAcc float64 `json:"test_mean_class_acc"`
	ValTop1          float64 `json:"val_top1"` // NaN without a validation split (null or absent)
	Epochs           int     `json:"epochs"`
	BestEpoch        int     `json:"best_epoch"` // the epoch of the selected model; 0 when absent
	WallSeconds      float64 `json:"wall_seconds"`
	ImagesPerSecond  float64 `json:"images_per_second"`
	Attention        string  `json:"attention"`
	Dataset          string  `json:"dataset"`   // the data FORMAT (folder, cub, synthetic...), not which dataset
	DataRoot         string  `json:"data_root"` // "" when absent
	Seed             int64   `json:"seed"`
	Selection        string  `json:"selection"`
	Depth            int     `json:"depth"`
	WidthMultiplier  float64 `json:"width_multiplier"` // 0 when absent
	ImageSize        int     `json:"image_size"`
	TrainImages      int     `json:"train_images"` // 0 when absent
	ValImages        int     `json:"val_images"`   // −1 when absent (0 is a run without a validation split)
	TestImages       int     `json:"test_images"`  // 0 when absent
	Params           int64   `json:"params"`
	// FinalTestTop1 is the test top-1 of the last epoch's model when train.selection chose an earlier
	// epoch; NaN when absent. Package train does not write it yet: without it such a run's final-epoch
	// result is unknown, because the test_top1 on the last line of metrics.jsonl is the selected model's.
	FinalTestTop1 float64 `json:"final_test_top1"`
}

// Epoch is the part of one line of RUN/metrics.jsonl the report draws. A value the line lacks is NaN.
type Epoch struct {
	Epoch     int
	TrainLoss float64
	TrainTop1 float64
	ValTop1   float64
	TestTop1  float64 // only on the last line, and of the model summary.json's test_top1 measures
}

// Run is one finished run directory.
type Run struct {
	Dir     string
	Summary Summary
	Epochs  []Epoch // ordered by epoch, one per epoch; nil without metrics.jsonl
	// Name is the sweep's name of the run's dataset (the <dataset> of <dataset>/<variant>/seed<S>), ""
	// outside that layout. It names a row; it does not decide which runs share one.
	Name string
	// Config is RUN/config.yaml flattened to dotted keys (model.gate_form), values in the text form of
	// flattenConfig; nil without a readable file. It is what tells unlike runs apart.
	Config map[string]string
}

// Problem is a file that could not be used; the report goes on without it.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) String() string { return p.Path + ": " + p.Err.Error() }

// runFiles are the files whose presence makes a directory a run directory.
var runFiles = []string{"summary.json", "metrics.jsonl", "config.yaml", "checkpoints", "train.log"}

// layout is a sweep's run directory: <dataset>/<variant>/seed<S>.
var layout = regexp.MustCompile(`^seed(-?\d+)$`)

// Load finds every run directory below root. A run with a readable summary.json is returned; a run
// directory without one (unfinished), a summary that does not parse or lacks test_top1, and bad lines of
// metrics.jsonl are returned as problems, never fatal. A summary without dataset, attention or seed takes
// them from the sweep's directory layout <dataset>/<variant>/seed<S> when the run sits in one. The error
// is non-nil only when root cannot be read.
func Load(root string) ([]Run, []Problem, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, nil, fmt.Errorf("runs directory: %w", err)
	}
	var runs []Run
	var problems []Problem
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, Problem{path, err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() || !isRunDir(path) {
			return nil
		}
		run, ps := loadRun(path)
		problems = append(problems, ps...)
		if run != nil {
			runs = append(runs, *run)
		}
		return fs.SkipDir // a run directory holds no other runs
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return runs, problems, nil
}

func isRunDir(dir string) bool {
	for _, f := range runFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

func loadRun(dir string) (*Run, []Problem) {
	path := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, []Problem{{path, errors.New("missing: the run has not finished")}}
	}
	if err != nil {
		return nil, []Problem{{path, err}}
	}
	var s Summary
	var has struct {
		TestTop1      *float64 `json:"test_top1"`
		ValTop1       *float64 `json:"val_top1"`
		Seed          *int64   `json:"seed"`
		ValImages     *int     `json:"val_images"`
		FinalTestTop1 *float64 `json:"final_test_top1"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, []Problem{{path, fmt.Errorf("parse: %w", err)}}
	}
	if err := json.Unmarshal(b, &has); err != nil {
		return nil, []Problem{{path, fmt.Errorf("parse: %w", err)}}
	}
	if has.TestTop1 == nil {
		return nil, []Problem{{path, errors.New("no test_top1")}}
	}
	if has.ValTop1 == nil {
		s.ValTop1 = math.NaN() // trained without a validation split
	}
	if has.ValImages == nil {
		s.ValImages = -1
	}
	if has.FinalTestTop1 == nil {
		s.FinalTestTop1 = math.NaN()
	}
	if s.Dataset == "" || s.Attention == "" || has.Seed == nil {
		// <dataset>/<variant>/seed<S>
		m := layout.FindStringSubmatch(filepath.Base(dir))
		if m == nil {
			return nil, []Problem{{path, errors.New("no dataset, attention or seed, and the directory is not <dataset>/<variant>/seed<S>")}}
		}
		if s.Attention == "" {
			s.Attention = filepath.Base(filepath.Dir(dir))
		}
		if s.Dataset == "" {
			s.Dataset = filepath.Base(filepath.Dir(filepath.Dir(dir)))
		}
		if has.Seed == nil {
			s.Seed, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	run := &Run{Dir: dir, Summary: s}
	// Only the sweep's own layout names the dataset: the variant directory must be the run's variant.
	if layout.MatchString(filepath.Base(dir)) && filepath.Base(filepath.Dir(dir)) == s.Attention {
		if name := filepath.Base(filepath.Dir(filepath.Dir(dir))); name != "." && name != string(filepath.Separator) {
			run.Name = name
		}
	}
	var problems []Problem
	cfgPath := filepath.Join(dir, "config.yaml")
	if b, err := os.ReadFile(cfgPath); err == nil {
		cfg, err := flattenConfig(b)
		if err != nil {
			problems = append(problems, Problem{cfgPath, fmt.Errorf("%w; the run's settings are taken from summary.json alone", err)})
		} else {
			cfg = withDefaults(cfg)
		}
		run.Config = cfg
	} else if !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, Problem{cfgPath, err})
	}
	epochs, ps := loadMetrics(filepath.Join(dir, "metrics.jsonl"))
	run.Epochs = epochs
	return run, append(problems, ps...)
}

// loadMetrics reads metrics.jsonl; a missing file is no problem (no curves), a bad line is.
func loadMetrics(path string) ([]Epoch, []Problem) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []Problem{{path, err}}
	}
	defer f.Close()
	var problems []Problem
	byEpoch := map[int]Epoch{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var m struct {
			Epoch     *int     `json:"epoch"`
			TrainLoss *float64 `json:"train_loss"`
			TrainTop1 *float64 `json:"train_top1"`
			ValTop1   *float64 `json:"val_top1"`
			TestTop1  *float64 `json:"test_top1"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			problems = append(problems, Problem{fmt.Sprintf("%s:%d", path, line), fmt.Errorf("parse: %w", err)})
			continue
		}
		if m.Epoch == nil {
			problems = append(problems, Problem{fmt.Sprintf("%s:%d", path, line), errors.New("no epoch")})
			continue
		}
		byEpoch[*m.Epoch] = Epoch{Epoch: *m.Epoch, TrainLoss: orNaN(m.TrainLoss), TrainTop1: orNaN(m.TrainTop1), ValTop1: orNaN(m.ValTop1),
			TestTop1: orNaN(m.TestTop1)}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, Problem{path, err})
	}
	epochs := make([]Epoch, 0, len(byEpoch))
	for _, e := range byEpoch {
		epochs = append(epochs, e)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i].Epoch < epochs[j].Epoch })
	return epochs, problems
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
