package bench

import (
	"fmt"
	"time"
)

// Modes of a benchmark run.
const (
	Quick = "quick"
	Full  = "full"
)

// Plan is everything one benchmark run measures.
type Plan struct {
	Mode string `json:"mode"`
	// Train is the `none` model's training step; its Settings are replaced by the chosen candidate.
	Train TrainSpec `json:"train"`
	// Candidates are the Go session settings tried on the `none` step at the Knobs size, the project's
	// defaults first; the fastest is kept for everything after. KerasXLA are the jit_compile values
	// tried on the Keras peer likewise. With one of each, nothing is searched.
	Candidates []Settings `json:"candidates"`
	KerasXLA   []bool     `json:"keras_xla"`
	Knobs      TrainSpec  `json:"knobs"` // the training step the knobs are searched on
	// Variants are the attention variants timed against `none` after everything else, as long as the
	// Budget allows.
	Variants []string `json:"variants"`
	// VariantsPerGroup is how many variants one process times beside `none` (round-robin steps):
	// all of them in quick mode, one in full mode, where a 224×224 session takes gigabytes.
	VariantsPerGroup int          `json:"variants_per_group"`
	Peak             PeakSpec     `json:"peak"`
	Infer            InferSpec    `json:"infer"`
	Pipeline         PipelineSpec `json:"pipeline"`
	// SynthClasses×SynthPerClass synthetic SynthSize² JPEGs feed both input pipelines.
	SynthClasses  int `json:"synth_classes"`
	SynthPerClass int `json:"synth_per_class"`
	SynthSize     int `json:"synth_size"`
	// Budget bounds the run: an optional measurement (a variant) that would end past it is skipped
	// and reported as such. 0 means no bound.
	Budget time.Duration `json:"budget_ns"`
}

// PlanFor returns the plan of a mode on a machine of ncpu CPUs.
//
// quick (make bench-quick, a few minutes even on a loaded 2-CPU machine): ResNet-50 at 112×112,
// batch 8, 3 timed steps; inference of a ResNet-18 at 112×112; 640 pipeline images at 112×112.
//
// full (make bench): the knobs (inter-op threads, oneDNN, XLA for Go; jit_compile for Keras) searched
// on the quick step (112×112, batch 8), then ResNet-50 at 224×224, batch 16, 4 timed steps, every
// attention variant; inference of the ResNet-50 at 224×224; 2048 pipeline images at 224×224.
func PlanFor(mode string, ncpu int) (Plan, error) {
	ncpu = max(ncpu, 1)
	def := Settings{IntraOpThreads: ncpu, InterOpThreads: 2}
	p := Plan{
		Mode:         mode,
		Candidates:   []Settings{def},
		KerasXLA:     []bool{false},
		Variants:     []string{"csca", "ca", "sa", "fcn"},
		Peak:         PeakSpec{N: 2048, Runs: 10},
		SynthClasses: 4, SynthPerClass: 16, SynthSize: 400,
	}
	switch mode {
	case Quick:
		p.Train = TrainSpec{Attention: "none", Depth: 50, ImageSize: 112, Batch: 8, Classes: 200, Warmup: 1, Steps: 3}
		p.Infer = InferSpec{Attention: "none", Depth: 18, ImageSize: 112, Classes: 200, Batches: []int{1, 16}, Iters: 6}
		p.Pipeline = PipelineSpec{ImageSize: 112, ResizeSize: 128, Batch: 16, Workers: ncpu, Images: 640}
		p.Budget = 270 * time.Second
		p.VariantsPerGroup = len(p.Variants)
	case Full:
		p.Train = TrainSpec{Attention: "none", Depth: 50, ImageSize: 224, Batch: 16, Classes: 200, Warmup: 1, Steps: 4}
		p.Infer = InferSpec{Attention: "none", Depth: 50, ImageSize: 224, Classes: 200, Batches: []int{1, 16}, Iters: 10}
		p.Pipeline = PipelineSpec{ImageSize: 224, ResizeSize: 256, Batch: 16, Workers: ncpu, Images: 2048}
		p.KerasXLA = []bool{false, true}
		p.Knobs = TrainSpec{Attention: "none", Depth: 50, ImageSize: 112, Batch: 8, Classes: 200, Warmup: 1, Steps: 3}
		p.Candidates = append(p.Candidates,
			Settings{IntraOpThreads: ncpu, InterOpThreads: 1},
			Settings{IntraOpThreads: ncpu, InterOpThreads: 2, OneDNN: "0"},
			Settings{IntraOpThreads: ncpu, InterOpThreads: 2, XLA: true, XLAFlags: "--tf_xla_cpu_global_jit"},
		)
		p.SynthPerClass = 32
		p.Budget = 30 * time.Minute
		p.VariantsPerGroup = 1
	default:
		return Plan{}, fmt.Errorf("mode %q: want %s or %s", mode, Quick, Full)
	}
	p.Train.Settings = def
	p.Peak.Settings = def
	p.Infer.Settings = def
	return p, nil
}
