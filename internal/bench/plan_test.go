package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanFor(t *testing.T) {
	for _, ncpu := range []int{1, 2, 16} {
		quick, err := PlanFor(Quick, ncpu)
		if err != nil {
			t.Fatal(err)
		}
		full, err := PlanFor(Full, ncpu)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Plan{quick, full} {
			if p.Train.Attention != "none" || p.Train.Depth != 50 {
				t.Errorf("%s: train %+v, want the none ResNet-50", p.Mode, p.Train)
			}
			def := p.TrainPairs[0].Go
			if def.IntraOpThreads != ncpu || def.InterOpThreads != 2 || def.XLA || def.OneDNN != "" || p.TrainPairs[0].KerasXLA {
				t.Errorf("%s on %d CPUs: headline pair %+v, want the project's defaults against Keras without XLA", p.Mode, ncpu, p.TrainPairs[0])
			}
			for _, tp := range p.TrainPairs {
				if tp.Go.XLA != tp.KerasXLA {
					t.Errorf("%s: pair %+v compares XLA on one side with none on the other", p.Mode, tp)
				}
			}
			if p.Train.Steps < MinPairs || p.Infer.Iters < MinPairs {
				t.Errorf("%s: %d training steps and %d inference rounds, want at least %d pairs each", p.Mode, p.Train.Steps, p.Infer.Iters, MinPairs)
			}
			if len(p.InferPairs) == 0 || p.InferPairs[0] != (InferPair{}) || !slices.Contains(p.InferPairs, InferPair{GoOptimized: true}) {
				t.Errorf("%s: inference pairs %v, want the original on both sides first and the optimised Go against the original Python", p.Mode, p.InferPairs)
			}
			if p.Train.Settings != def || p.Peak.Settings != def || p.Infer.Settings != def {
				t.Errorf("%s: specs do not start at the default settings", p.Mode)
			}
			if p.Pipeline.Workers != ncpu || p.Budget <= 0 {
				t.Errorf("%s: pipeline workers %d, budget %v", p.Mode, p.Pipeline.Workers, p.Budget)
			}
			if len(p.Variants) != 4 {
				t.Errorf("%s: variants %v, want the four attention variants", p.Mode, p.Variants)
			}
		}
		if quick.Train.ImageSize >= full.Train.ImageSize || quick.Train.Batch >= full.Train.Batch || quick.Budget >= full.Budget {
			t.Errorf("quick %+v is not smaller than full %+v", quick.Train, full.Train)
		}
		if full.Train.ImageSize != 224 || full.Train.Batch != 16 || len(full.TrainPairs) != 2 {
			t.Errorf("full plan %+v: want 224×224, batch 16, the pairs without and with XLA", full)
		}
		// Keras's step is profiled beside the Go variants', after them; its inference is not.
		if len(full.Profiles) != 2 {
			t.Fatalf("full plan: %d profiles, want the training step and the inference head", len(full.Profiles))
		}
		for _, ps := range full.Profiles {
			if err := ps.validate(); err != nil {
				t.Errorf("full plan profile: %v", err)
			}
			if ps.Variants[0] != "none" {
				t.Errorf("full plan profile %v: want none as the baseline", ps.Variants)
			}
		}
		train, infer := full.Profiles[0], full.Profiles[1]
		if train.Inference || !slices.Equal(train.Variants, []string{"none", "ca", "sa", "csca", KerasVariant}) {
			t.Errorf("full plan training profile %v (inference %v), want the gated variants then %s", train.Variants, train.Inference, KerasVariant)
		}
		if !infer.Inference || slices.Contains(infer.Variants, KerasVariant) {
			t.Errorf("full plan inference profile %v (inference %v), want the Go variants alone", infer.Variants, infer.Inference)
		}
	}
	if _, err := PlanFor("medium", 2); err == nil || !strings.Contains(err.Error(), "medium") {
		t.Errorf("PlanFor(medium) error %v, want one naming the mode", err)
	}
}

func TestSettings(t *testing.T) {
	tests := []struct {
		s       Settings
		env     []string
		label   string
		threads int
	}{
		{Settings{IntraOpThreads: 2, InterOpThreads: 2}, nil, "intra=2 inter=2", 2},
		{Settings{IntraOpThreads: 4, InterOpThreads: 1, XLA: true, XLAFlags: "--tf_xla_cpu_global_jit"},
			[]string{"TF_XLA_FLAGS=--tf_xla_cpu_global_jit"}, "intra=4 inter=1 xla TF_XLA_FLAGS=--tf_xla_cpu_global_jit", 4},
		{Settings{IntraOpThreads: 1, InterOpThreads: 2, OneDNN: "0"}, []string{"TF_ENABLE_ONEDNN_OPTS=0"}, "intra=1 inter=2 onednn=0", 1},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.s.Env(), ","); got != strings.Join(tc.env, ",") {
			t.Errorf("%+v: Env %q, want %q", tc.s, got, tc.env)
		}
		if got := tc.s.String(); got != tc.label {
			t.Errorf("%+v: String %q, want %q", tc.s, got, tc.label)
		}
		sc := tc.s.Session()
		if sc.IntraOpThreads != tc.threads || sc.InterOpThreads != tc.s.InterOpThreads || sc.XLA != tc.s.XLA {
			t.Errorf("%+v: Session %+v", tc.s, sc)
		}
	}
	if sc := (Settings{}).Session(); sc.IntraOpThreads < 1 {
		t.Errorf("zero Settings: %d intra-op threads, want the CPU count", sc.IntraOpThreads)
	}
}
