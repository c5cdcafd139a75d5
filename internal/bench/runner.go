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
	trainGo := func(attention string, s Settings) GoTrain {
		g := GoTrain{Settings: s}
		spec := p.Train
		spec.Attention, spec.Settings = attention, s
		measure(&g.Meta, fmt.Sprintf("Go train %s (%s)", attention, s), func() error {
			g.Result = &TrainResult{}
			return worker(WorkTrain, spec, s.Env(), g.Result)
		})
		return g
	}

	// 1. The machine's peak, and the `none` step under each candidate setting.
	peak(p.Candidates[0])
	for _, s := range p.Candidates {
		res.Candidates = append(res.Candidates, trainGo("none", s))
	}
	best := chooseCandidate(res)
	chosen := res.Candidates[best]
	res.Settings = chosen.Settings

	// 2. Keras at the same batch, size and threads.
	for _, xla := range p.KerasXLA {
		s := res.Settings
		k := KerasTrain{XLA: xla, IntraOpThreads: s.Session().IntraOpThreads, InterOpThreads: s.InterOpThreads}
		args := []string{"--batch", strconv.Itoa(p.Train.Batch), "--size", strconv.Itoa(p.Train.ImageSize),
			"--classes", strconv.Itoa(p.Train.Classes), "--steps", strconv.Itoa(p.Train.Steps),
			"--warmup", strconv.Itoa(p.Train.Warmup), "--intra", strconv.Itoa(s.Session().IntraOpThreads),
			"--inter", strconv.Itoa(s.InterOpThreads)}
		if xla {
			args = append(args, "--xla")
		}
		measure(&k.Meta, fmt.Sprintf("Keras ResNet50 train (intra=%d inter=%d jit_compile=%v)", s.Session().IntraOpThreads, s.InterOpThreads, xla), func() error {
			return python(KerasScript, Settings{OneDNN: s.OneDNN}.Env(), &k, args...)
		})
		if k.OK() && k.ImagesPerSec > 0 {
			flop := TrainStepFLOPs(k.ForwardMACs, p.Train.Batch) / 1e9
			k.GFLOPs = k.Step.Rate(flop)
			if c := k.Step.CPUPerRun(); c > 0 {
				k.GFLOPsPerCPUSecond = flop / c
			}
			res.PythonTF, res.KerasVersion = k.TensorFlow, k.Keras
		}
		res.Keras = append(res.Keras, k)
	}

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
		measure(&res.InferPython.Meta, "Python SavedModel inference", func() error {
			return python(InferScript, Settings{OneDNN: inf.Settings.OneDNN}.Env(), &res.InferPython, args...)
		})
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
		measure(&res.TFData.Meta, fmt.Sprintf("tf.data input pipeline (%d parallel calls)", pl.Workers), func() error {
			return python(TFDataScript, nil, &res.TFData, "--files", pl.FileList, "--images", strconv.Itoa(pl.Images),
				"--workers", strconv.Itoa(pl.Workers), "--batch", strconv.Itoa(pl.Batch), "--size", strconv.Itoa(pl.ImageSize),
				"--resize", strconv.Itoa(pl.ResizeSize))
		})
	}

	// 5. The attention variants, while the budget lasts.
	estimate := time.Duration(chosen.WallSeconds*1.3) * time.Second
	for _, v := range p.Variants {
		if used := time.Since(budgetStart); p.Budget > 0 && used+estimate > p.Budget {
			g := GoTrain{Settings: res.Settings, Meta: Meta{What: "Go train " + v,
				Skipped: fmt.Sprintf("time budget: %.0f s used of %.0f s, a variant takes about %.0f s", used.Seconds(), p.Budget.Seconds(), estimate.Seconds())}}
			fmt.Fprintf(logw, "bench: [%4.0fs] %s: skipped (%s)\n", time.Since(start).Seconds(), g.What, g.Skipped)
			res.Variants = append(res.Variants, g)
			continue
		}
		res.Variants = append(res.Variants, trainGo(v, res.Settings))
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

// chooseCandidate returns the index of the fastest candidate setting: by images per second, or, when
// the machine was overloaded during the candidates (median load above its CPU count), by images per
// CPU-second of the measuring process, which the load distorts much less. It records the rule.
func chooseCandidate(res *Results) int {
	var loads []float64
	for _, c := range res.Candidates {
		loads = append(loads, c.LoadBefore, c.LoadAfter)
	}
	score := func(c GoTrain) float64 { return c.ImagesPerSec() }
	res.SelectedBy = "images per second"
	if len(loads) > 0 && median(loads) > float64(max(1, res.Machine.NumCPU)) {
		res.SelectedBy = "images per CPU-second (the machine was overloaded)"
		score = func(c GoTrain) float64 {
			if c.ImagesPerSec() <= 0 || c.Result.Step.CPUPerRun() <= 0 {
				return c.ImagesPerSec()
			}
			return float64(c.Result.Spec.Batch) / c.Result.Step.CPUPerRun()
		}
	}
	best := 0
	for i, c := range res.Candidates {
		if score(c) > score(res.Candidates[best]) {
			best = i
		}
	}
	return best
}

// summarise fills the headline numbers from the measurements.
func (res *Results) summarise() {
	for _, c := range res.Candidates {
		if c.Settings == res.Settings && c.OK() && c.Result != nil {
			res.TrainImgSGo = c.Result.ImagesPerSec
			res.StepGFLOPs = c.Result.GFLOPs
			res.StepGFLOPsPerCPUSecond = c.Result.GFLOPsPerCPUSecond
		}
	}
	for _, k := range res.Keras {
		if k.OK() {
			res.TrainImgSKeras = max(res.TrainImgSKeras, k.ImagesPerSec)
		}
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
