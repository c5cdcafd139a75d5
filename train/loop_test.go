package train

import (
	"context"
	"io"
	"math"
	"slices"
	"testing"
)

// TestLossScaler drives dynamic loss scaling with injected overflows: an overflow halves the scale
// (never below minLossScale) and restarts the count of good steps; growEvery good steps in a row double
// it (never above maxLossScale).
func TestLossScaler(t *testing.T) {
	const grow = 3
	tests := []struct {
		name      string
		scale     float64
		good      int
		applied   []bool // the steps, in order
		wantScale float64
		wantGood  int
	}{
		{"overflow halves", 1024, 2, []bool{false}, 512, 0},
		{"overflows in a row", 1024, 0, []bool{false, false, false}, 128, 0},
		{"floor", 1, 0, []bool{false}, minLossScale, 0},
		{"good steps count", 1024, 0, []bool{true, true}, 1024, 2},
		{"grows after growEvery good steps", 1024, 0, []bool{true, true, true}, 2048, 0},
		{"an overflow restarts the count", 1024, 0, []bool{true, true, false, true, true, true}, 1024, 0},
		{"ceiling", maxLossScale, grow - 1, []bool{true}, maxLossScale, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &State{LossScale: tt.scale, GoodSteps: tt.good}
			l := &lossScaler{st: st, growEvery: grow}
			for _, ok := range tt.applied {
				if err := l.onStep(stepResult{Applied: ok}); err != nil {
					t.Fatal(err)
				}
			}
			if st.LossScale != tt.wantScale || st.GoodSteps != tt.wantGood {
				t.Errorf("after %v from scale %g: scale %g, good steps %d; want %g, %d", tt.applied, tt.scale, st.LossScale, st.GoodSteps, tt.wantScale, tt.wantGood)
			}
		})
	}
}

// TestStepHooksCountSkippedSteps: a skipped step is a step (the schedule and the epoch move on) but not
// an applied update (AdamW's bias correction counts applied ones); its loss and hits still count in the
// epoch's sums.
func TestStepHooksCountSkippedSteps(t *testing.T) {
	r := &runner{st: &State{}, prog: NewProgress(io.Discard, true, 0, 1)}
	for i, applied := range []bool{true, false, true} {
		res := stepResult{Epoch: 1, Step: int64(i + 1), Images: 4, Loss: 1.5, Correct: 2, GradNorm: 0.5, Applied: applied, Seconds: 0.25}
		for _, h := range []stepHook{r.checkLoss, r.count, r.showStep} {
			if err := h(res); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := EpochSums{Loss: 3 * 1.5 * 4, Correct: 6, Images: 12, Seconds: 0.75, GradNorm: 1.5}
	if st := r.st; st.Step != 3 || st.StepInEpoch != 3 || st.Applied != 2 || st.Partial != want || st.TrainSeconds != 0.75 {
		t.Errorf("state after 3 steps, 1 skipped: step %d, in epoch %d, applied %d, sums %+v, train seconds %g; want 3, 3, 2, %+v, 0.75",
			st.Step, st.StepInEpoch, st.Applied, st.Partial, st.TrainSeconds, want)
	}
}

// TestOverflowSkipsStep runs the loop's own step and hooks on the mixed-precision training graph with a
// loss scale past float32's range, an injected overflow: the gradients come out non-finite, the step is
// skipped with every variable and optimiser slot unchanged, and the scale halves. A step at a sane scale
// then applies an update.
func TestOverflowSkipsStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a training graph")
	}
	cfg, tg, sess, snapshot := mixedPrecisionRun(t)
	data := tinyData(cfg)
	overflow := 2 * float64(math.MaxFloat32) // +Inf once fed as float32
	r := &runner{cfg: cfg, tg: tg, sess: sess, data: data, sched: NewSchedule(cfg.Train, 4),
		st: &State{LossScale: overflow}, prog: NewProgress(io.Discard, true, 0, 1)}
	it, err := data.Loader.Train(context.Background(), data.Train, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	hooks := r.stepHooks()
	step := func() stepResult {
		t.Helper()
		b, err := r.nextBatch(it, 1)
		if err != nil || b == nil {
			t.Fatalf("batch: %v, %v", b, err)
		}
		res, err := r.step(1, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			if err := h(res); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}

	before := snapshot()
	if res := step(); res.Applied || math.IsNaN(res.Loss) {
		t.Fatalf("a step at loss scale %g: applied %v, loss %g; want skipped with a finite loss", overflow, res.Applied, res.Loss)
	}
	if !slices.EqualFunc(before, snapshot(), slices.Equal) {
		t.Fatal("a skipped step changed a variable or optimiser slot")
	}
	if st := r.st; st.LossScale != overflow/2 || st.Step != 1 || st.Applied != 0 {
		t.Fatalf("after the overflow: loss scale %g, step %d, applied %d; want %g, 1, 0", st.LossScale, st.Step, st.Applied, overflow/2)
	}

	r.st.LossScale = 1024
	if res := step(); !res.Applied {
		t.Fatal("a step at loss scale 1024 was skipped")
	}
	if slices.EqualFunc(before, snapshot(), slices.Equal) {
		t.Fatal("an applied step changed nothing")
	}
	if st := r.st; st.LossScale != 1024 || st.GoodSteps != 1 || st.Step != 2 || st.Applied != 1 {
		t.Errorf("after a good step: loss scale %g, good steps %d, step %d, applied %d; want 1024, 1, 2, 1", st.LossScale, st.GoodSteps, st.Step, st.Applied)
	}
}
