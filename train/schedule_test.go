package train

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestChangeAt: a resume whose schedule differs from the checkpoint's states the learning rate of its
// first step under both; the run follows the current one.
func TestChangeAt(t *testing.T) {
	base := Default().Train
	base.LR, base.Epochs, base.WarmupEpochs, base.MinLRFactor, base.Schedule = 1e-4, 5, 0, 0, "cosine"
	with := func(edit func(*TrainConfig)) Schedule {
		c := base
		c.Milestones = slices.Clone(base.Milestones)
		edit(&c)
		return NewSchedule(c, 10)
	}
	old := NewSchedule(base, 10)
	tests := []struct {
		name     string
		cur      Schedule
		step     int64
		changed  []string // nil: no change reported
		from, to float64
	}{
		// A finished 5-epoch run extended to 10: the cosine is at its floor at step 50 and halfway down
		// the 10-epoch one.
		{"extend a finished run", with(func(c *TrainConfig) { c.Epochs = 10 }), 50, []string{"train.epochs 5 → 10"}, 0, 0.5e-4},
		{"extend mid-run", with(func(c *TrainConfig) { c.Epochs = 10 }), 25, []string{"train.epochs 5 → 10"},
			0.5e-4 * (1 + math.Cos(math.Pi*0.5)), 0.5e-4 * (1 + math.Cos(math.Pi*0.25))},
		{"same schedule", with(func(*TrainConfig) {}), 30, nil, 0, 0},
		{"a lower lr", with(func(c *TrainConfig) { c.LR = 1e-5 }), 0, []string{"train.lr 0.0001 → 1e-05"}, 1e-4, 1e-5},
		{"two keys", with(func(c *TrainConfig) { c.Epochs, c.Schedule = 6, "constant" }), 50, []string{"train.epochs 5 → 6", "train.schedule cosine → constant"}, 0, 1e-4},
		{"milestones", with(func(c *TrainConfig) { c.Milestones = []float64{1} }), 50, []string{"train.milestones [30 60 90] → [1]"}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ChangeAt(old, tc.cur, tc.step)
			if tc.changed == nil {
				if c != nil {
					t.Fatalf("change reported for the same schedule: %s", c)
				}
				return
			}
			if c == nil {
				t.Fatal("no change reported")
			}
			if !slices.Equal(c.Changed, tc.changed) || c.Step != tc.step || math.Abs(c.FromLR-tc.from) > 1e-15 || math.Abs(c.ToLR-tc.to) > 1e-15 {
				t.Errorf("got %+v, want changed %q from %g to %g at step %d", *c, tc.changed, tc.from, tc.to, tc.step)
			}
			if c.ToLR != tc.cur.At(tc.step) {
				t.Errorf("to_lr %g is not the current schedule's %g", c.ToLR, tc.cur.At(tc.step))
			}
			line := c.String()
			for _, want := range append(slices.Clone(tc.changed), "step "+strconv.FormatInt(tc.step+1, 10)) {
				if !strings.Contains(line, want) {
					t.Errorf("line %q lacks %q", line, want)
				}
			}
			if strings.Contains(line, "\n") {
				t.Errorf("not one line: %q", line)
			}
		})
	}
}

// TestTrainedSchedule reads the schedule of the run's config.yaml, not the environment's or defaults'.
func TestTrainedSchedule(t *testing.T) {
	dir := t.TempDir()
	cfg := Default()
	cfg.Train.Epochs, cfg.Train.LR = 5, 0.002
	text, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvName("train.epochs"), "9")
	s, err := TrainedSchedule(dir, 12)
	if err != nil {
		t.Fatal(err)
	}
	if s.Epochs != 5 || s.LR != 0.002 || s.StepsPerEpoch != 12 || s.Kind != cfg.Train.Schedule {
		t.Errorf("schedule %+v, want 5 epochs of 12 steps at lr 0.002", s)
	}
	if _, err := TrainedSchedule(filepath.Join(dir, "none"), 12); err == nil || !strings.Contains(err.Error(), "config.yaml") {
		t.Errorf("missing config.yaml: %v", err)
	}
}
