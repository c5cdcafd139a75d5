package train

import "math"

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
