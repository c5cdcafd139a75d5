package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Exec runs a command with env added to the environment and decodes the JSON object it prints into
// v; RunJSON is the real one.
type Exec func(ctx context.Context, env []string, v any, name string, args ...string) error

// Runner runs a Plan. Every Go measurement runs in a fresh process of Self (cmd/bench's -worker
// mode), every peer in Python, one at a time, so that no two measurements share the CPUs.
type Runner struct {
	Plan    Plan
	Self    string    // the binary with the -worker mode
	Python  string    // python with TensorFlow (the project's .venv); empty skips the peers
	Root    string    // repository root: bench/*.py and pipeline/bench_tfdata.py
	Work    string    // scratch directory for the exported model and the images
	Command string    // the command line, for the report
	Log     io.Writer // one progress line per measurement; nil discards them
	Start   time.Time // when the budget starts (the build before the run counts); zero means now
	Exec    Exec      // nil means RunJSON
}

// Python peer scripts, relative to the repository root.
const (
	KerasScript  = "bench/keras_train.py"
	InferScript  = "bench/infer_savedmodel.py"
	TFDataScript = "pipeline/bench_tfdata.py"
)

// Worker kinds of the -worker mode (see cmd/bench).
const (
	WorkTrain    = "train"
	WorkPeak     = "peak"
	WorkExport   = "export"
	WorkInfer    = "infer"
	WorkPipeline = "pipeline"
)

var errNoPython = errors.New("no Python with TensorFlow (run make pyenv)")

// Run measures everything in the plan and returns the results. A failed measurement is recorded with
// its error and the run goes on; the returned error then says how many failed.
func (r *Runner) Run(ctx context.Context) (*Results, error) {
	p := r.Plan
	start := time.Now()
	budgetStart := r.Start
	if budgetStart.IsZero() || budgetStart.After(start) {
		budgetStart = start
	}
	res := &Results{Mode: p.Mode, Started: start.UTC().Truncate(time.Second), SetupSeconds: start.Sub(budgetStart).Seconds(), Command: r.Command, Machine: DescribeMachine(), Plan: p}
	logw := r.Log
	if logw == nil {
		logw = io.Discard
	}
	failed := 0
	measure := func(m *Meta, what string, f func() error) {
		m.What = what
		m.LoadBefore = LoadAverage()
		t := time.Now()
		if err := f(); err != nil {
			m.Error = err.Error()
			failed++
		}
		m.WallSeconds = time.Since(t).Seconds()
		m.LoadAfter = LoadAverage()
		status := "ok"
		if m.Error != "" {
			status = "FAILED: " + firstLine(m.Error)
		}
		fmt.Fprintf(logw, "bench: [%4.0fs] %s (%.0fs, load %.1f): %s\n", time.Since(start).Seconds(), what, m.WallSeconds, m.LoadBefore, status)
	}
	run := r.Exec
	if run == nil {
		run = RunJSON
	}
	worker := func(kind string, spec any, env []string, v any) error {
		b, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		return run(ctx, append(env, "TF_CPP_MIN_LOG_LEVEL=2"), v, r.Self, "-worker", kind, "-spec", string(b))
	}
	python := func(script string, env []string, v any, args ...string) error {
		if r.Python == "" {
			return errNoPython
		}
		env = append([]string{"TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES="}, env...)
		return run(ctx, env, v, r.Python, append([]string{filepath.Join(r.Root, script)}, args...)...)
	}
	peak := func(s Settings) {
		var pr PeakRun
		spec := p.Peak
		spec.Settings = s
		measure(&pr.Meta, fmt.Sprintf("peak MatMul %d×%d (%s)", spec.N, spec.N, s), func() error {
			pr.Result = &PeakResult{}
			return worker(WorkPeak, spec, s.Env(), pr.Result)
		})
		res.Peak = append(res.Peak, pr)
	}
	trainGo := func(spec TrainSpec, attention string, s Settings, label string) GoTrain {
		g := GoTrain{Settings: s}
		spec.Attention, spec.Settings = attention, s
		measure(&g.Meta, fmt.Sprintf("%sGo train %s %dpx batch %d (%s)", label, attention, spec.ImageSize, spec.Batch, s), func() error {
			g.Result = &TrainResult{}
			return worker(WorkTrain, spec, s.Env(), g.Result)
		})
		return g
	}
	trainKeras := func(spec TrainSpec, xla bool, s Settings, label string) KerasTrain {
		k := KerasTrain{XLA: xla, IntraOpThreads: s.Session().IntraOpThreads, InterOpThreads: s.InterOpThreads}
		args := []string{"--batch", strconv.Itoa(spec.Batch), "--size", strconv.Itoa(spec.ImageSize),
			"--classes", strconv.Itoa(spec.Classes), "--steps", strconv.Itoa(spec.Steps),
			"--warmup", strconv.Itoa(spec.Warmup), "--intra", strconv.Itoa(k.IntraOpThreads),
			"--inter", strconv.Itoa(k.InterOpThreads)}
		if xla {
			args = append(args, "--xla")
		}
		what := fmt.Sprintf("%sKeras ResNet50 train %dpx batch %d (intra=%d inter=%d jit_compile=%v)", label, spec.ImageSize, spec.Batch,
			k.IntraOpThreads, k.InterOpThreads, xla)
		var out KerasTrain
		measure(&k.Meta, what, func() error {
			return python(KerasScript, Settings{OneDNN: s.OneDNN}.Env(), &out, args...)
		})
		if k.OK() {
			out.Meta, k = k.Meta, out
		}
		if k.OK() && k.ImagesPerSec > 0 {
			flop := TrainStepFLOPs(k.ForwardMACs, spec.Batch) / 1e9
			k.GFLOPs = k.Step.Rate(flop)
			if c := k.Step.CPUPerRun(); c > 0 {
				k.GFLOPsPerCPUSecond = flop / c
			}
			res.PythonTF, res.KerasVersion = k.TensorFlow, k.Keras
		}
		return k
	}

	// 1. The machine's peak; the knobs of both sides, searched at the plan's smaller knob size.
	peak(p.Candidates[0])
	res.Settings, res.KerasXLA = p.Candidates[0], p.KerasXLA[0]
	if len(p.Candidates) > 1 || len(p.KerasXLA) > 1 {
		for _, s := range p.Candidates {
			res.Candidates = append(res.Candidates, trainGo(p.Knobs, "none", s, "knobs: "))
		}
		for _, xla := range p.KerasXLA {
			res.KerasCandidates = append(res.KerasCandidates, trainKeras(p.Knobs, xla, p.Candidates[0], "knobs: "))
		}
		res.chooseKnobs()
	}

	// 2. The `none` step and Keras at the same batch, size and threads.
	res.Train = trainGo(p.Train, "none", res.Settings, "")
	res.Keras = trainKeras(p.Train, res.KerasXLA, res.Settings, "")

	// 3. Inference on one exported SavedModel, from Go and from Python.
	inf := p.Infer
	inf.Settings = res.Settings
	inf.Dir = filepath.Join(r.Work, fmt.Sprintf("savedmodel-%s-r%d-%d", inf.Attention, inf.Depth, inf.ImageSize))
	exportMeta := Meta{}
	measure(&exportMeta, "export SavedModel", func() error {
		if err := os.RemoveAll(inf.Dir); err != nil {
			return err
		}
		var ignored InferSpec
		return worker(WorkExport, inf, nil, &ignored)
	})
	if exportMeta.Error != "" {
		res.InferGo.Meta, res.InferPython.Meta = exportMeta, exportMeta
	} else {
		measure(&res.InferGo.Meta, fmt.Sprintf("Go SavedModel inference (%s)", inf.Settings), func() error {
			res.InferGo.Result = &InferResult{}
			return worker(WorkInfer, inf, inf.Settings.Env(), res.InferGo.Result)
		})
		args := []string{"--dir", inf.Dir, "--iters", strconv.Itoa(inf.Iters), "--intra", strconv.Itoa(inf.Settings.Session().IntraOpThreads),
			"--inter", strconv.Itoa(inf.Settings.InterOpThreads), "--batches"}
		for _, b := range inf.Batches {
			args = append(args, strconv.Itoa(b))
		}
		var out PyInfer
		measure(&res.InferPython.Meta, "Python SavedModel inference", func() error {
			return python(InferScript, Settings{OneDNN: inf.Settings.OneDNN}.Env(), &out, args...)
		})
		if res.InferPython.OK() {
			out.Meta, res.InferPython = res.InferPython.Meta, out
		}
	}

	// 4. The input pipeline against tf.data on the same files.
	pl := p.Pipeline
	pl.FileList = filepath.Join(r.Work, "pipeline-files.txt")
	var filesMeta Meta
	measure(&filesMeta, "synthetic JPEGs", func() error {
		files, err := SynthFiles(ctx, filepath.Join(r.Work, "images"), p.SynthClasses, p.SynthPerClass, p.SynthSize)
		if err != nil {
			return err
		}
		return WriteFileList(pl.FileList, files)
	})
	if filesMeta.Error != "" {
		res.PipelineGo.Meta, res.TFData.Meta = filesMeta, filesMeta
	} else {
		measure(&res.PipelineGo.Meta, fmt.Sprintf("Go input pipeline (%d workers)", pl.Workers), func() error {
			res.PipelineGo.Result = &PipelineResult{}
			return worker(WorkPipeline, pl, nil, res.PipelineGo.Result)
		})
		var out TFData
		measure(&res.TFData.Meta, fmt.Sprintf("tf.data input pipeline (%d parallel calls)", pl.Workers), func() error {
			return python(TFDataScript, nil, &out, "--files", pl.FileList, "--images", strconv.Itoa(pl.Images),
				"--workers", strconv.Itoa(pl.Workers), "--batch", strconv.Itoa(pl.Batch), "--size", strconv.Itoa(pl.ImageSize),
				"--resize", strconv.Itoa(pl.ResizeSize))
		})
		if res.TFData.OK() {
			out.Meta, res.TFData = res.TFData.Meta, out
		}
	}

	// 5. The attention variants, while the budget lasts.
	estimate := time.Duration(res.Train.WallSeconds*1.3) * time.Second
	for _, v := range p.Variants {
		if used := time.Since(budgetStart); p.Budget > 0 && used+estimate > p.Budget {
			g := GoTrain{Settings: res.Settings, Meta: Meta{What: "Go train " + v,
				Skipped: fmt.Sprintf("time budget: %.0f s used of %.0f s, a variant takes about %.0f s", used.Seconds(), p.Budget.Seconds(), estimate.Seconds())}}
			fmt.Fprintf(logw, "bench: [%4.0fs] %s: skipped (%s)\n", time.Since(start).Seconds(), g.What, g.Skipped)
			res.Variants = append(res.Variants, g)
			continue
		}
		res.Variants = append(res.Variants, trainGo(p.Train, v, res.Settings, ""))
	}

	// 6. The peak again at the chosen settings: the best of both is the machine's.
	peak(res.Settings)

	res.DurationSeconds = time.Since(start).Seconds()
	res.summarise()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if failed > 0 {
		return res, fmt.Errorf("%d measurement(s) failed (see the report)", failed)
	}
	return res, nil
}

// chooseKnobs picks the Go settings and the Keras jit_compile value that trained fastest in the knob
// search: by images per second, or, when the machine was overloaded during the search (median load
// above its CPU count), by images per CPU-second of the measuring process, which the load distorts
// much less. It records the rule in SelectedBy.
func (res *Results) chooseKnobs() {
	var loads []float64
	for _, c := range res.Candidates {
		loads = append(loads, c.LoadBefore, c.LoadAfter)
	}
	for _, k := range res.KerasCandidates {
		loads = append(loads, k.LoadBefore, k.LoadAfter)
	}
	byCPU := len(loads) > 0 && median(loads) > float64(max(1, res.Machine.NumCPU))
	res.SelectedBy = "images per second"
	if byCPU {
		res.SelectedBy = "images per CPU-second (the machine was overloaded)"
	}
	score := func(ok bool, imgs float64, batch int, t Timing) float64 {
		switch {
		case !ok || imgs <= 0:
			return 0
		case byCPU && t.CPUPerRun() > 0:
			return float64(batch) / t.CPUPerRun()
		}
		return imgs
	}
	best := -1.0
	for _, c := range res.Candidates {
		if c.Result == nil {
			continue
		}
		if sc := score(c.OK(), c.Result.ImagesPerSec, c.Result.Spec.Batch, c.Result.Step); sc > best {
			best, res.Settings = sc, c.Settings
		}
	}
	best = -1
	for _, k := range res.KerasCandidates {
		if sc := score(k.OK(), k.ImagesPerSec, res.Plan.Knobs.Batch, k.Step); sc > best {
			best, res.KerasXLA = sc, k.XLA
		}
	}
}

// summarise fills the headline numbers from the measurements.
func (res *Results) summarise() {
	if r := res.noneResult(); r != nil {
		res.TrainImgSGo = r.ImagesPerSec
		res.StepGFLOPs = r.GFLOPs
		res.StepGFLOPsPerCPUSecond = r.GFLOPsPerCPUSecond
	}
	if k := res.keras(); k != nil {
		res.TrainImgSKeras = k.ImagesPerSec
	}
	if g := res.InferGo; g.OK() && g.Result != nil {
		for _, b := range g.Result.Batches {
			switch b.Batch {
			case 1:
				res.InferB1MSGo = b.MedianMS
			case 16:
				res.InferB16ImgSGo = b.ImagesPerSec
			}
		}
	}
	if py := res.InferPython; py.OK() {
		for _, b := range py.Batches {
			switch b.Batch {
			case 1:
				res.InferB1MSPython = b.MedianMS
			case 16:
				res.InferB16ImgSPython = b.ImagesPerSec
			}
		}
		if res.PythonTF == "" {
			res.PythonTF = py.TensorFlow
		}
	}
	if g := res.PipelineGo; g.OK() && g.Result != nil {
		res.PipelineImgSGo = g.Result.ImagesPerSec
	}
	if res.TFData.OK() {
		res.PipelineImgSTFData = res.TFData.ImagesPerSec
	}
	for _, p := range res.Peak {
		if p.OK() && p.Result != nil {
			res.PeakGFLOPs = max(res.PeakGFLOPs, p.Result.GFLOPs)
			res.PeakGFLOPsPerCPUSecond = max(res.PeakGFLOPsPerCPUSecond, p.Result.GFLOPsPerCPUSecond)
		}
	}
	if res.PeakGFLOPs > 0 {
		res.PeakFraction = res.StepGFLOPs / res.PeakGFLOPs
	}
	if res.PeakGFLOPsPerCPUSecond > 0 {
		res.PeakFractionCPU = res.StepGFLOPsPerCPUSecond / res.PeakGFLOPsPerCPUSecond
	}
	res.Notes = res.notes()
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
