package bench

import (
	"fmt"
	"math"
	"strings"
)

// notes states what the run's numbers say, goal by goal, and where a goal is missed, what the other
// measurements of the same run tell about why.
func (res *Results) notes() []string {
	var n []string
	add := func(format string, args ...any) { n = append(n, fmt.Sprintf(format, args...)) }
	none, keras := res.noneResult(), res.keras()
	p := res.Plan

	if len(res.Candidates) > 0 {
		add("Knobs: of the %d Go settings tried on the `none` step at %d×%d, %s was best by %s; every headline number uses it. Keras was best with jit_compile=%v. The search is in the knob table.",
			len(res.Candidates), p.Knobs.ImageSize, p.Knobs.ImageSize, res.Settings, res.SelectedBy, res.KerasXLA)
	}
	if none != nil && keras != nil {
		r := none.ImagesPerSec / keras.ImagesPerSec
		switch {
		case r < 1 && r > 0.95:
			add("Training: the Go graph is on par with Keras's ResNet50 (%.2f against %.2f img/s, %.0f%% behind, within this machine's run-to-run noise; Keras with jit_compile=%v). The goal's strict reading (Go ≥ Keras) is not met in this run.",
				none.ImagesPerSec, keras.ImagesPerSec, 100*(1-r), keras.XLA)
		case r >= 1:
			add("Training: the Go graph trains %.0f%% faster than Keras's ResNet50 (%.2f against %.2f img/s, Keras with jit_compile=%v).",
				100*(r-1), none.ImagesPerSec, keras.ImagesPerSec, keras.XLA)
		default:
			add("Training: the Go graph is %.0f%% slower than Keras's ResNet50 by wall clock (%.2f against %.2f img/s, Keras with jit_compile=%v).",
				100*(1-r), none.ImagesPerSec, keras.ImagesPerSec, keras.XLA)
		}
		gc, kc := none.Step.CPUPerRun(), keras.Step.CPUPerRun()
		if gc > 0 && kc > 0 {
			work := float64(none.ForwardMACs)/float64(keras.ForwardMACs) - 1
			eff := none.GFLOPsPerCPUSecond/keras.GFLOPsPerCPUSecond - 1
			add("CPU time: a Go step takes %.2f CPU-s against Keras's %.2f (%s); our torchvision ResNet-50 does %s multiply-adds per image (stride in the 3×3 convolution of a bottleneck rather than the first 1×1), so per counted FLOP Go runs at %.1f GFLOP per CPU-second against Keras's %.1f (%s).",
				gc, kc, pct(gc/kc-1), pct(work), none.GFLOPsPerCPUSecond, keras.GFLOPsPerCPUSecond, pct(eff))
			switch {
			case r < 1 && gc <= kc*1.05:
				add("Why Go loses here: not in the work: per step it needs no more CPU time than Keras. What differs is how much of the machine each process got while stepping: Go's step kept %.2f CPUs busy on average (CPU time over wall time), Keras's %.2f. A likely reason (a hypothesis, not measured here): on a machine shared with other work a process gets CPU time in proportion to its runnable threads, and Keras's graph (composed batch norm, biases, an unfused optimiser: many small independent ops for the inter-op threads) keeps more of them ready than our fused one. On an idle machine both are bound by their CPU time.",
					gc/none.Step.Median(), kc/keras.Step.Median())
			case r < 1 && eff >= -0.05:
				add("Why Go loses here: the extra time is the extra work of torchvision's layout (which the pretrained weights and the paper need); per counted FLOP both graphs run at the same rate (within 5%%).")
			case r < 1:
				add("Why Go loses here: the Go step is %.0f%% less efficient per counted FLOP. Candidates for the difference: fused batch norm against Keras's composed one, the explicit Pad ops before the strided convolutions, the gradient-norm pass, and noise from the load (see the knobs in full mode).", -100*eff)
			}
		}
	}
	if none != nil && keras != nil {
		add("Start-up: the Go step was ready after %.1f s (graph construction %.1f s, then the first step with TensorFlow's graph optimisation); Keras after %.1f s (model construction %.1f s, then tracing and the first step), not counting the Python import of TensorFlow.",
			none.BuildSeconds+none.FirstStepSeconds, none.BuildSeconds, keras.BuildSeconds+keras.FirstStepSeconds, keras.BuildSeconds)
	}
	for _, g := range res.Variants {
		if g.Error != "" && g.Settings != res.Plan.Candidates[0] {
			add("Variants %s failed with the chosen settings %s: %s. They were measured again with the project's defaults (%s) when time allowed; their rows in the variant table say which settings each number has.",
				strings.Join(g.Attention[1:], ", "), g.Settings, lastLines(g.Error, 1), res.Plan.Candidates[0])
		}
		wall, cpu := g.Overheads()
		for i, r := range g.Results[min(1, len(g.Results)):] {
			if i >= len(wall) {
				break
			}
			noise := ""
			if wall[i] < 0 || cpu[i] < 0 {
				noise = "; a variant does more work than `none`, so a negative figure is the load's noise"
			}
			add("Variant `%s` (%s): %.2f img/s beside `none`'s %.2f in the same process, %s step time (CPU time %s%s).",
				r.Spec.Attention, g.Settings, r.ImagesPerSec, g.Results[0].ImagesPerSec, pct(wall[i]), pct(cpu[i]), noise)
		}
	}
	if res.InferB1MSGo > 0 && res.InferB1MSPython > 0 {
		r := res.InferB1MSGo / res.InferB1MSPython
		if r <= 1 {
			add("Inference: batch-1 latency from Go is %.1f ms against Python's %.1f ms (%.0f%% lower).", res.InferB1MSGo, res.InferB1MSPython, 100*(1-r))
		} else {
			add("Inference: batch-1 latency from Go is %.1f ms against Python's %.1f ms (%.0f%% higher).", res.InferB1MSGo, res.InferB1MSPython, 100*(r-1))
			if g := res.InferGo.Result; g != nil {
				for _, b := range g.Batches {
					if b.Batch != 1 {
						continue
					}
					for _, pb := range res.InferPython.Batches {
						if pb.Batch == 1 {
							add("Why: the same session run without the input copy (Go PredictTensor %.1f ms, Python tensor %.1f ms) and the CPU time per call (Go %.1f ms, Python %.1f ms) show whether the gap is in TensorFlow's run or around it; differences under ~10%% are within this machine's noise at this load.",
								1000*b.Tensor.Median(), 1000*pb.Tensor.Median(), 1000*b.Predict.CPUPerRun(), 1000*pb.Numpy.CPUPerRun())
						}
					}
				}
			}
		}
	}
	if res.PipelineImgSGo > 0 {
		if res.PipelineImgSTFData > 0 {
			add("Input pipeline: %.1f img/s in Go against %.1f with tf.data on the same files (%.2f×).", res.PipelineImgSGo, res.PipelineImgSTFData, res.PipelineImgSGo/res.PipelineImgSTFData)
		}
		if res.TrainImgSGo > 0 {
			r := res.PipelineImgSGo / res.TrainImgSGo
			met := "meets"
			if r < PipelineOverTrainGoal {
				met = "misses"
			}
			add("The pipeline delivers %.1f× what the training step consumes at %d×%d (%s the %.0f× goal).", r, p.Train.ImageSize, p.Train.ImageSize, met, PipelineOverTrainGoal)
		}
	}
	if res.PeakFraction > 0 {
		add("Efficiency: the `none` training step reaches %.0f%% of the MatMul peak by wall clock (%.1f of %.1f GFLOP/s) and %.0f%% per CPU-second (%.1f of %.1f). (Why not more: see the last section.)",
			100*res.PeakFraction, res.StepGFLOPs, res.PeakGFLOPs, 100*res.PeakFractionCPU, res.StepGFLOPsPerCPUSecond, res.PeakGFLOPsPerCPUSecond)
	}
	if l := res.loads(); len(l) > 0 && median(l) > float64(res.Machine.NumCPU) && !math.IsNaN(median(l)) {
		add("Load: the median load average during the run was %.1f on %d CPUs: other work shared the machine, which slows every wall-clock number and adds noise of tens of percent between measurements.", median(l), res.Machine.NumCPU)
	}
	return n
}
