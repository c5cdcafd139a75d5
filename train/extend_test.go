package train

import (
	"bytes"
	"strings"
	"testing"
)

// TestExtendFinishedRun resumes a finished 2-epoch cosine run with train.epochs 4: the session states
// the learning rate of its first step under both schedules, follows the 4-epoch one, and the first
// epoch it ends records the change.
func TestExtendFinishedRun(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Train.Epochs, cfg.Train.WarmupEpochs, cfg.Train.MinLRFactor = 2, 0, 0
	dir := t.TempDir()
	if _, err := runTiny(t, cfg, dir, nil); err != nil {
		t.Fatal(err)
	}
	spe := int64(len(tinyData(cfg).Train) / cfg.Train.BatchSize)
	longer := *cfg
	longer.Train.Epochs = 4
	var log bytes.Buffer
	if _, err := runTiny(t, &longer, dir, func(o *Options) { o.Resume = true; o.Log = &log }); err != nil {
		t.Fatal(err)
	}
	want := NewSchedule(longer.Train, int(spe))
	if !strings.Contains(log.String(), "train.epochs 2 → 4 since the checkpoint") {
		t.Errorf("log lacks the schedule change:\n%s", log.String())
	}
	_, _, metrics, _ := finalState(t, dir)
	if len(metrics) != 4 {
		t.Fatalf("%d epochs of metrics, want 4", len(metrics))
	}
	c := metrics[2].ScheduleChange
	if c == nil || c.Step != 2*spe || c.FromLR != 0 || c.ToLR != want.At(2*spe) || metrics[3].ScheduleChange != nil || metrics[1].ScheduleChange != nil {
		t.Errorf("epoch 3 records %+v, epochs 2 and 4 %+v %+v; want from 0 to %g at step %d on epoch 3 only", c, metrics[1].ScheduleChange, metrics[3].ScheduleChange, want.At(2*spe), 2*spe)
	}
	if metrics[2].LR != want.At(3*spe-1) {
		t.Errorf("epoch 3 ends at lr %g, the 4-epoch schedule's is %g", metrics[2].LR, want.At(3*spe-1))
	}
}
