package train

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Schedule gives the learning rate of the new layers at each optimisation step: a linear warm-up from
// 0 over WarmupEpochs, then cosine decay to MinLRFactor·LR, step decay by Gamma at each milestone, or a
// constant. It depends only on the step, so a resumed run follows the same curve.
type Schedule struct {
	Kind          string // cosine, step, constant
	LR            float64
	WarmupEpochs  float64
	Epochs        int
	StepsPerEpoch int
	Milestones    []float64
	Gamma         float64
	MinLRFactor   float64
}

// NewSchedule is the schedule of cfg for an epoch of stepsPerEpoch steps.
func NewSchedule(cfg TrainConfig, stepsPerEpoch int) Schedule {
	return Schedule{
		Kind: cfg.Schedule, LR: cfg.LR, WarmupEpochs: cfg.WarmupEpochs, Epochs: cfg.Epochs,
		StepsPerEpoch: max(stepsPerEpoch, 1), Milestones: cfg.Milestones, Gamma: cfg.Gamma, MinLRFactor: cfg.MinLRFactor,
	}
}

// At is the learning rate of step (0-based) of the whole run.
func (s Schedule) At(step int64) float64 {
	spe := float64(s.StepsPerEpoch)
	warm := s.WarmupEpochs * spe
	if float64(step) < warm {
		return s.LR * float64(step+1) / math.Ceil(warm)
	}
	epoch := float64(step) / spe
	switch s.Kind {
	case "cosine":
		total := float64(s.Epochs)*spe - warm
		t := 1.0
		if total > 0 {
			t = math.Min((float64(step)-warm)/total, 1)
		}
		floor := s.MinLRFactor * s.LR
		return floor + (s.LR-floor)*0.5*(1+math.Cos(math.Pi*t))
	case "step":
		lr := s.LR
		for _, m := range s.Milestones {
			if epoch >= m {
				lr *= s.Gamma
			}
		}
		return lr
	}
	return s.LR
}

// Extending a run. The learning rate of a step is always the one of the schedule the configuration
// describes now: a run resumed with more train.epochs follows, from where it stopped, the curve of a run
// configured with the new epochs from the start, as timm, Keras and Lightning do when a scheduler is
// rebuilt for a longer run. A finished cosine run thus goes back up from its floor to where the longer
// cosine stands at that step. Continuing at the final learning rate instead would train the extra
// epochs of a cosine schedule at min_lr_factor·lr, 0 by default: nothing would change. Because the jump
// is deliberate but surprising, the resumed session states it (ScheduleChange) instead of taking it
// silently.

// ScheduleChange is a resumed session's schedule compared with the one its checkpoint was trained with,
// at the first step of the session.
type ScheduleChange struct {
	Step    int64    `json:"step"`    // the first step of the session, 0-based
	Changed []string `json:"changed"` // the schedule's keys that differ, as "train.epochs 5 → 10"
	FromLR  float64  `json:"from_lr"` // the learning rate of Step under the schedule the run was trained with
	ToLR    float64  `json:"to_lr"`   // the learning rate of Step under the current schedule, which the run takes
}

// ChangeAt compares the schedule a run was trained with (old) and the one of its current configuration
// (cur) at step, the first step of the resumed session; nil when they are the same schedule.
func ChangeAt(old, cur Schedule, step int64) *ScheduleChange {
	var changed []string
	diff := func(key string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			changed = append(changed, fmt.Sprintf("%s %v → %v", key, a, b))
		}
	}
	diff("train.epochs", old.Epochs, cur.Epochs)
	diff("train.schedule", old.Kind, cur.Kind)
	diff("train.lr", old.LR, cur.LR)
	diff("train.warmup_epochs", old.WarmupEpochs, cur.WarmupEpochs)
	diff("train.min_lr_factor", old.MinLRFactor, cur.MinLRFactor)
	diff("train.milestones", old.Milestones, cur.Milestones)
	diff("train.gamma", old.Gamma, cur.Gamma)
	diff("steps per epoch", old.StepsPerEpoch, cur.StepsPerEpoch)
	if len(changed) == 0 {
		return nil
	}
	return &ScheduleChange{Step: step, Changed: changed, FromLR: old.At(step), ToLR: cur.At(step)}
}

// String is the line a resumed session prints: what changed, and the learning rate of its first step
// under both schedules.
func (c *ScheduleChange) String() string {
	return fmt.Sprintf("%s since the checkpoint: the learning rate follows the current schedule, %.3g at step %d (%.3g under the one the run was trained with)",
		strings.Join(c.Changed, ", "), c.ToLR, c.Step+1, c.FromLR)
}

// TrainedSchedule is the schedule that the run in runDir was last trained with, for epochs of
// stepsPerEpoch steps: the train section of its config.yaml, which every session rewrites when it starts
// (read it before a resumed session does). The file is read leniently, without the environment and
// without validation: it only serves to compare.
func TrainedSchedule(runDir string, stepsPerEpoch int) (Schedule, error) {
	path := filepath.Join(runDir, "config.yaml")
	text, err := readRunFile(path)
	if err != nil {
		return Schedule{}, fmt.Errorf("the schedule the run was trained with: %w", err)
	}
	cfg := Default()
	if err := yaml.Unmarshal(text, cfg); err != nil {
		return Schedule{}, fmt.Errorf("the schedule the run was trained with: read %s: %w", path, err)
	}
	return NewSchedule(cfg.Train, stepsPerEpoch), nil
}
