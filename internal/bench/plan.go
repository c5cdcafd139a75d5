package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/finegrain/finegrain/nets"
)

// Modes of a benchmark run.
const (
	Quick = "quick"
	Full  = "full"
)

// Plan is everything one benchmark run measures.
type Plan struct {
	Mode string `json:"mode"`
	// Train is the `none` model's training step, timed beside Keras once for each of TrainPairs, at
	// this size: settings are never chosen at one size and reported at another. The first pair, the
	// project's defaults against Keras without jit_compile, gives the headline figures.
	Train      TrainSpec   `json:"train"`
	TrainPairs []TrainPair `json:"train_pairs"`
	// InferPairs are the Go/Python inference pairs: which side runs the optimised export (cmd/export
	// -optimize) and which the original SavedModel.
	InferPairs []InferPair `json:"infer_pairs"`
	// Variants are the attention variants timed against `none` after everything else, as long as the
	// Budget allows.
	Variants []string `json:"variants"`
	// VariantsPerGroup is how many variants one process times beside `none` (round-robin steps):
	// all of them in quick mode, one in full mode, where a 224×224 session takes gigabytes.
	VariantsPerGroup int `json:"variants_per_group"`
	// Profiles are per-op profiles (TensorFlow's step statistics) taken after the variants, as long
	// as the Budget allows: full mode traces the training step of `none`, every gated variant and
	// Keras's ResNet50 (KerasVariant), and the batch-1 inference head of the Go variants, so that each
	// full run records where the time goes.
	Profiles []ProfileSpec `json:"profiles,omitempty"`
	Peak     PeakSpec      `json:"peak"`
	Infer    InferSpec     `json:"infer"`
	Pipeline PipelineSpec  `json:"pipeline"`
	// SynthClasses×SynthPerClass synthetic SynthSize² JPEGs feed both input pipelines.
	SynthClasses  int `json:"synth_classes"`
	SynthPerClass int `json:"synth_per_class"`
	SynthSize     int `json:"synth_size"`
	// Budget bounds the run: an optional measurement (a variant) that would end past it is skipped
	// and reported as such. 0 means no bound.
	Budget time.Duration `json:"budget_ns"`
}

// TrainPair is one Go/Keras training comparison: the Go session settings and Keras's jit_compile.
type TrainPair struct {
	Go       Settings `json:"go"`
	KerasXLA bool     `json:"keras_xla"`
}

// InferPair is one Go/Python inference comparison: whether each side loads the optimised export.
type InferPair struct {
	GoOptimized     bool `json:"go_optimized"`
	PythonOptimized bool `json:"python_optimized"`
}

// String is a label such as "Go optimised / Python original".
func (p InferPair) String() string {
	m := map[bool]string{false: "original", true: "optimised"}
	return "Go " + m[p.GoOptimized] + " / Python " + m[p.PythonOptimized]
}

// PlanFor returns the plan of a mode on a machine of ncpu CPUs.
//
// quick (make bench-quick, a few minutes even on a loaded 2-CPU machine): ResNet-50 at 112×112,
// batch 8, 3 paired steps with the defaults on both sides; inference of a ResNet-18 at 112×112;
// 640 pipeline images at 112×112.
//
// full (make bench): ResNet-50 at 224×224, batch 16, 5 paired steps, with the defaults on both sides
// and again with XLA on both sides (Go auto-clustering, Keras jit_compile), every attention
// variant; inference of the ResNet-50 at 224×224; 2048 pipeline images at 224×224.
func PlanFor(mode string, ncpu int) (Plan, error) {
	ncpu = max(ncpu, 1)
	def := Settings{IntraOpThreads: ncpu, InterOpThreads: 2}
	p := Plan{
		Mode:         mode,
		TrainPairs:   []TrainPair{{Go: def}},
		InferPairs:   []InferPair{{}, {GoOptimized: true}, {GoOptimized: true, PythonOptimized: true}},
		Variants:     []string{nets.AttentionCSCA.String(), nets.AttentionCA.String(), nets.AttentionSA.String(), nets.AttentionFCN.String()}, // the paper's first: a budget cuts from the end
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
		p.Train = TrainSpec{Attention: "none", Depth: 50, ImageSize: 224, Batch: 16, Classes: 200, Warmup: 1, Steps: 5}
		p.Infer = InferSpec{Attention: "none", Depth: 50, ImageSize: 224, Classes: 200, Batches: []int{1, 16}, Iters: 10}
		p.Pipeline = PipelineSpec{ImageSize: 224, ResizeSize: 256, Batch: 16, Workers: ncpu, Images: 2048}
		p.TrainPairs = append(p.TrainPairs, TrainPair{Go: Settings{IntraOpThreads: ncpu, InterOpThreads: 2, XLA: true, XLAFlags: "--tf_xla_cpu_global_jit"}, KerasXLA: true})
		p.SynthPerClass = 32
		// Two training pairs (one compiling with XLA) and three inference pairs leave the variants
		// little of a half hour on a loaded 2-CPU machine.
		p.Budget = 45 * time.Minute
		p.VariantsPerGroup = 1
		gated := []string{nets.AttentionNone.String(), nets.AttentionCA.String(), nets.AttentionSA.String(), nets.AttentionCSCA.String()}
		// Keras's step beside the Go variants' shows where the Go graph loses time against it; its
		// inference is compared with the Go export's by the inference pairs instead.
		p.Profiles = []ProfileSpec{
			{Variants: append(slices.Clone(gated), KerasVariant), Depth: 50, ImageSize: 224, Batch: 8, Classes: 200, Steps: 5, Top: 5},
			{Variants: gated, Depth: 50, ImageSize: 224, Batch: 1, Classes: 200, Steps: 10, Top: 5, Inference: true},
		}
	default:
		return Plan{}, fmt.Errorf("mode %q: want %s or %s", mode, Quick, Full)
	}
	p.Train.Settings = def
	p.Peak.Settings = def
	for i := range p.Profiles {
		p.Profiles[i].Settings = def
	}
	p.Infer.Settings = def
	return p, nil
}
