package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exec runs a command and decodes the JSON object it prints last into v; RunJSON is the real one.
type Exec func(ctx context.Context, c Command, v any) error

// PairExec runs two commands in lockstep for rounds timed rounds and decodes their results; RunPair
// is the real one.
type PairExec func(ctx context.Context, a, b Command, rounds int, va, vb any) error

// Runner runs a Plan. Every Go measurement runs in a fresh process of Self (cmd/bench's -worker
// mode), every peer in Python. Measurements run one at a time, except the Go/peer comparisons of
// training and inference, whose two processes run side by side in lockstep (RunPair): their timed
// rounds alternate, so both see the same load.
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
	Pair    PairExec  // nil means RunPair
}

// Python peer scripts, relative to the repository root.
const (
	KerasScript  = "bench/keras_train.py"
	InferScript  = "bench/infer_savedmodel.py"
	TFDataScript = "pipeline/bench_tfdata.py"
)

// Worker kinds of the -worker mode (see cmd/bench).
const (
	WorkTrain      = "train"
	WorkTrainGroup = "train-group"
	WorkPeak       = "peak"
	WorkExport     = "export"
	WorkInfer      = "infer"
	WorkPipeline   = "pipeline"
	WorkProfile    = "profile"
)

var errNoPython = errors.New("no Python with TensorFlow (run make pyenv)")

// runState is one Run in progress.
type runState struct {
	*Runner
	ctx         context.Context
	res         *Results
	start       time.Time // of the measurements
	budgetStart time.Time
	log         io.Writer
	failed      int
}

// Run measures everything in the plan and returns the results. A failed measurement is recorded with
// its error and the run goes on; the returned error then says how many failed.
func (r *Runner) Run(ctx context.Context) (*Results, error) {
	p := r.Plan
	st := &runState{Runner: r, ctx: ctx, start: time.Now(), log: r.Log}
	st.budgetStart = r.Start
	if st.budgetStart.IsZero() || st.budgetStart.After(st.start) {
		st.budgetStart = st.start
	}
	if st.log == nil {
		st.log = io.Discard
	}
	if st.Exec == nil {
		st.Exec = RunJSON
	}
	if st.Pair == nil {
		st.Pair = RunPair
	}
	res := &Results{Mode: p.Mode, Started: st.start.UTC().Truncate(time.Second), SetupSeconds: st.start.Sub(st.budgetStart).Seconds(),
		Command: r.Command, Machine: DescribeMachine(), Plan: p}
	res.PeersSkipped = r.Python == ""
	st.res = res

	// 1. The machine's peak.
	st.peak(p.Peak.Settings)
	res.Settings = p.Train.Settings
	if len(p.TrainPairs) > 0 {
		res.Settings = p.TrainPairs[0].Go
	}
	// 2. The `none` step beside Keras at the same batch, size and threads, once per pair of settings.
	for _, tp := range p.TrainPairs {
		res.TrainPairs = append(res.TrainPairs, st.trainPair(tp))
	}
	// 3. Inference from Go beside Python, on the original and the optimised export.
	st.infer()
	// 4. The input pipeline against tf.data on the same files.
	st.pipeline()
	// 5. The attention variants beside `none`, while the budget lasts.
	st.variants()
	// 6. The per-op profiles, while the budget lasts.
	st.profiles()
	// 7. The peak again: the best of both is the machine's.
	st.peak(p.Peak.Settings)

	res.DurationSeconds = time.Since(st.start).Seconds()
	res.summarise()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if st.failed > 0 {
		return res, fmt.Errorf("%d measurement(s) failed (see the report)", st.failed)
	}
	return res, nil
}

// measure runs f as the measurement m, recording the load around it, its time and its error.
func (st *runState) measure(m *Meta, what string, f func() error) {
	m.What = what
	m.LoadBefore = LoadAverage()
	t := time.Now()
	if err := f(); err != nil {
		m.Error = err.Error()
		st.failed++
	}
	m.WallSeconds = time.Since(t).Seconds()
	m.LoadAfter = LoadAverage()
	status := "ok"
	if m.Error != "" {
		status = "FAILED: " + strings.SplitN(m.Error, "\n", 2)[0]
	}
	st.logf("%s (%.0fs, load %.1f): %s", what, m.WallSeconds, m.LoadBefore, status)
}

func (st *runState) logf(format string, args ...any) {
	fmt.Fprintf(st.log, "bench: [%4.0fs] %s\n", time.Since(st.start).Seconds(), fmt.Sprintf(format, args...))
}

// worker is the command measuring spec in a -worker process.
func (st *runState) worker(kind string, spec any, env []string, lockstep bool) (Command, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return Command{}, err
	}
	c := Command{Name: st.Self, Args: []string{"-worker", kind, "-spec", string(b)}, Env: append(env, "TF_CPP_MIN_LOG_LEVEL=2")}
	if lockstep {
		c.Args = append(c.Args, "-lockstep")
	}
	return c, nil
}

// runWorker measures spec in a -worker process and decodes its result into v.
func (st *runState) runWorker(kind string, spec any, env []string, v any) error {
	c, err := st.worker(kind, spec, env, false)
	if err != nil {
		return err
	}
	return st.Exec(st.ctx, c, v)
}

// python is the command running a peer script; it fails without a Python.
func (st *runState) python(script string, env []string, args ...string) (Command, error) {
	return pythonCommand(st.Python, filepath.Join(st.Root, script), env, args...)
}

func (st *runState) peak(s Settings) {
	var pr PeakRun
	spec := st.Plan.Peak
	spec.Settings = s
	st.measure(&pr.Meta, fmt.Sprintf("peak MatMul %d×%d (%s)", spec.N, spec.N, s), func() error {
		pr.Result = &PeakResult{}
		return st.runWorker(WorkPeak, spec, s.Env(), pr.Result)
	})
	st.res.Peak = append(st.res.Peak, pr)
}

func (st *runState) trainGo(spec TrainSpec, attention string, s Settings, label string) GoTrain {
	g := GoTrain{Settings: s}
	spec.Attention, spec.Settings = attention, s
	st.measure(&g.Meta, fmt.Sprintf("%sGo train %s %dpx batch %d (%s)", label, attention, spec.ImageSize, spec.Batch, s), func() error {
		g.Result = &TrainResult{}
		return st.runWorker(WorkTrain, spec, s.Env(), g.Result)
	})
	return g
}

// kerasCommand is the Keras peer at spec's size with the settings' threads.
func (st *runState) kerasCommand(spec TrainSpec, xla bool, s Settings, lockstep bool) (Command, error) {
	args := kerasArgs(spec, xla, s)
	if lockstep {
		args = append(args, "--lockstep")
	}
	return st.python(KerasScript, Settings{OneDNN: s.OneDNN}.Env(), args...)
}

// kerasArgs are the Keras script's arguments for spec's batch, size, classes, warm-up and timed
// steps, with the settings' threads.
func kerasArgs(spec TrainSpec, xla bool, s Settings) []string {
	args := []string{"--batch", strconv.Itoa(spec.Batch), "--size", strconv.Itoa(spec.ImageSize),
		"--classes", strconv.Itoa(spec.Classes), "--steps", strconv.Itoa(spec.Steps),
		"--warmup", strconv.Itoa(spec.Warmup), "--intra", strconv.Itoa(s.Session().IntraOpThreads),
		"--inter", strconv.Itoa(s.InterOpThreads)}
	if xla {
		args = append(args, "--xla")
	}
	return args
}

func kerasWhat(label string, spec TrainSpec, xla bool, s Settings) string {
	return fmt.Sprintf("%sKeras ResNet50 train %dpx batch %d (intra=%d inter=%d jit_compile=%v)", label, spec.ImageSize, spec.Batch,
		s.Session().IntraOpThreads, s.InterOpThreads, xla)
}

// finishKeras completes a Keras measurement from the script's output.
func (st *runState) finishKeras(k *KerasTrain, out KerasTrain, batch int) {
	if !k.OK() {
		return
	}
	out.Meta = k.Meta
	*k = out
	if k.ImagesPerSec > 0 {
		flop := TrainStepFLOPs(k.ForwardMACs, batch) / 1e9
		k.GFLOPs = k.Step.Rate(flop)
		if c := k.Step.CPUPerRun(); c > 0 {
			k.GFLOPsPerCPUSecond = flop / c
		}
		st.res.PythonTF, st.res.KerasVersion = k.TensorFlow, k.Keras
	}
}

// pairMeta gives b the measurement a recorded for both, under b's name.
func pairMeta(a Meta, what string) Meta {
	a.What = what
	return a
}

// trainPair measures the `none` step and Keras side by side in lockstep under tp. If the pair fails
// (no Python, a broken peer), the Go step is measured alone and the peer keeps the error.
func (st *runState) trainPair(tp TrainPair) TrainPairRun {
	spec := st.Plan.Train
	spec.Attention, spec.Settings = "none", tp.Go
	s := tp.Go
	run := TrainPairRun{Pair: tp, Go: GoTrain{Settings: s},
		Keras: KerasTrain{XLA: tp.KerasXLA, IntraOpThreads: s.Session().IntraOpThreads, InterOpThreads: s.InterOpThreads}}
	goWhat := fmt.Sprintf("Go train none %dpx batch %d (%s)", spec.ImageSize, spec.Batch, s)
	var out KerasTrain
	st.measure(&run.Go.Meta, goWhat+" beside "+kerasWhat("", spec, tp.KerasXLA, s), func() error {
		kc, err := st.kerasCommand(spec, tp.KerasXLA, s, true)
		if err != nil {
			return err
		}
		gc, err := st.worker(WorkTrain, spec, s.Env(), true)
		if err != nil {
			return err
		}
		run.Go.Result = &TrainResult{}
		return st.Pair(st.ctx, gc, kc, spec.Steps, run.Go.Result, &out)
	})
	run.Keras.Meta = pairMeta(run.Go.Meta, kerasWhat("", spec, tp.KerasXLA, s)+" beside Go")
	st.finishKeras(&run.Keras, out, spec.Batch)
	if !run.Go.OK() { // the failure is counted once, for the peer
		run.Go = st.trainGo(spec, "none", s, "")
		return run
	}
	if run.Keras.OK() && run.Go.Result != nil {
		// Equal batches: the images-per-second ratio of a pair is Keras's step time over Go's.
		st.logf("training Go/Keras (%s, jit_compile=%v): %s", s, tp.KerasXLA, verdictRatio(PairedRatio(run.Keras.Step.Seconds, run.Go.Result.Step.Seconds), true))
		run.Ratio = PairedRatio(run.Keras.Step.Seconds, run.Go.Result.Step.Seconds)
	}
	return run
}

// modelDir is where the inference model of the spec is exported.
func (st *runState) modelDir(inf InferSpec, optimized bool) string {
	name := fmt.Sprintf("savedmodel-%s-r%d-%d", inf.Attention, inf.Depth, inf.ImageSize)
	if optimized {
		name += "-optimized"
	}
	return filepath.Join(st.Work, name)
}

// infer exports the SavedModel, plain and optimised, and measures each of the plan's inference pairs
// from Go beside Python in lockstep (Go alone when the pair fails).
func (st *runState) infer() {
	res := st.res
	exports := map[bool]Meta{}
	for _, ip := range st.Plan.InferPairs {
		for _, opt := range []bool{ip.GoOptimized, ip.PythonOptimized} {
			if _, done := exports[opt]; done {
				continue
			}
			inf := st.Plan.Infer
			inf.Dir, inf.Optimized = st.modelDir(inf, opt), opt
			var m Meta
			st.measure(&m, fmt.Sprintf("export SavedModel (optimised: %v)", opt), func() error {
				if err := os.RemoveAll(inf.Dir); err != nil {
					return err
				}
				var ignored InferSpec
				return st.runWorker(WorkExport, inf, nil, &ignored)
			})
			exports[opt] = m
		}
	}
	for _, ip := range st.Plan.InferPairs {
		run := InferPairRun{Pair: ip}
		if m := exports[ip.GoOptimized]; !m.OK() {
			run.Go.Meta, run.Python.Meta = m, m
		} else if m := exports[ip.PythonOptimized]; !m.OK() {
			run.Go.Meta, run.Python.Meta = m, m
		} else {
			st.inferPair(&run)
		}
		res.InferPairs = append(res.InferPairs, run)
	}
}

// inferPair measures one inference pair into run.
func (st *runState) inferPair(run *InferPairRun) {
	ip := run.Pair
	inf := st.Plan.Infer
	inf.Dir, inf.Optimized = st.modelDir(inf, ip.GoOptimized), ip.GoOptimized
	args := []string{"--dir", st.modelDir(inf, ip.PythonOptimized), "--iters", strconv.Itoa(inf.Iters), "--intra", strconv.Itoa(inf.Settings.Session().IntraOpThreads),
		"--inter", strconv.Itoa(inf.Settings.InterOpThreads), "--lockstep", "--batches"}
	for _, b := range inf.Batches {
		args = append(args, strconv.Itoa(b))
	}
	goWhat := fmt.Sprintf("Go SavedModel inference (%s, %s)", ip, inf.Settings)
	var out PyInfer
	st.measure(&run.Go.Meta, goWhat+" beside Python", func() error {
		pc, err := st.python(InferScript, Settings{OneDNN: inf.Settings.OneDNN}.Env(), args...)
		if err != nil {
			return err
		}
		gc, err := st.worker(WorkInfer, inf, inf.Settings.Env(), true)
		if err != nil {
			return err
		}
		run.Go.Result = &InferResult{}
		return st.Pair(st.ctx, gc, pc, inf.Iters, run.Go.Result, &out)
	})
	run.Python.Meta = pairMeta(run.Go.Meta, fmt.Sprintf("Python SavedModel inference (%s) beside Go", ip))
	if run.Python.OK() {
		out.Meta = run.Python.Meta
		run.Python = out
	}
	if !run.Go.OK() { // the failure is counted once, for the peer
		run.Go = InferRun{}
		st.measure(&run.Go.Meta, goWhat, func() error {
			run.Go.Result = &InferResult{}
			return st.runWorker(WorkInfer, inf, inf.Settings.Env(), run.Go.Result)
		})
		return
	}
	if run.Python.OK() && run.Go.Result != nil {
		for _, b := range run.Go.Result.Batches {
			for _, pb := range run.Python.Batches {
				switch {
				case b.Batch != pb.Batch:
				case b.Batch == 1:
					run.B1 = PairedRatio(b.Predict.Seconds, pb.Numpy.Seconds)
				case b.Batch == 16:
					run.B16 = PairedRatio(pb.Numpy.Seconds, b.Predict.Seconds)
				}
			}
		}
		st.logf("inference %s: batch-1 ms Go/Python %s; batch-16 img/s Go/Python %s", ip, verdictRatio(run.B1, false), verdictRatio(run.B16, true))
	}
}

// pipeline measures the Go input pipeline, then tf.data, on the same synthetic JPEGs.
func (st *runState) pipeline() {
	p, res := st.Plan, st.res
	pl := p.Pipeline
	pl.FileList = filepath.Join(st.Work, "pipeline-files.txt")
	var files Meta
	st.measure(&files, "synthetic JPEGs", func() error {
		list, err := SynthFiles(st.ctx, filepath.Join(st.Work, "images"), p.SynthClasses, p.SynthPerClass, p.SynthSize)
		if err != nil {
			return err
		}
		return WriteFileList(pl.FileList, list)
	})
	if files.Error != "" {
		res.PipelineGo.Meta, res.TFData.Meta = files, files
		return
	}
	st.measure(&res.PipelineGo.Meta, fmt.Sprintf("Go input pipeline (%d workers)", pl.Workers), func() error {
		res.PipelineGo.Result = &PipelineResult{}
		return st.runWorker(WorkPipeline, pl, nil, res.PipelineGo.Result)
	})
	var out TFData
	st.measure(&res.TFData.Meta, fmt.Sprintf("tf.data input pipeline (%d parallel calls)", pl.Workers), func() error {
		c, err := st.python(TFDataScript, nil, "--files", pl.FileList, "--images", strconv.Itoa(pl.Images),
			"--workers", strconv.Itoa(pl.Workers), "--batch", strconv.Itoa(pl.Batch), "--size", strconv.Itoa(pl.ImageSize),
			"--resize", strconv.Itoa(pl.ResizeSize))
		if err != nil {
			return err
		}
		return st.Exec(st.ctx, c, &out)
	})
	if res.TFData.OK() {
		out.Meta = res.TFData.Meta
		res.TFData = out
	}
}

// variants times the attention variants beside `none`, VariantsPerGroup to a process, as many as
// the budget allows.
func (st *runState) variants() {
	p, res := st.Plan, st.res
	// The time one more model adds to a process: its build, first, warm-up and timed steps, with a
	// margin; a process also starts and counts FLOPs.
	perSpec := 0.0
	if len(res.TrainPairs) > 0 {
		perSpec = res.TrainPairs[0].Go.WallSeconds
	}
	if r := res.noneResult(); r != nil {
		perSpec = 1.2*(r.BuildSeconds+r.FirstStepSeconds+float64(r.Spec.Warmup+r.Spec.Steps)*r.Step.Median()) + 3
	}
	per := max(1, p.VariantsPerGroup)
	for i := 0; i < len(p.Variants); i += per {
		chunk := p.Variants[i:min(i+per, len(p.Variants))]
		fit := chunk
		used := time.Since(st.budgetStart)
		for p.Budget > 0 && len(fit) > 0 && used+time.Duration(float64(len(fit)+1)*perSpec*float64(time.Second)) > p.Budget {
			fit = fit[:len(fit)-1]
		}
		if len(fit) > 0 {
			g := VariantGroup{Settings: res.Settings, Attention: append([]string{"none"}, fit...)}
			specs := make([]TrainSpec, len(g.Attention))
			for j, a := range g.Attention {
				specs[j] = p.Train
				specs[j].Attention, specs[j].Settings = a, res.Settings
			}
			st.group(&g, specs)
			res.Variants = append(res.Variants, g)
		}
		if rest := chunk[len(fit):]; len(rest) > 0 {
			g := VariantGroup{Settings: res.Settings, Attention: append([]string{"none"}, rest...), Meta: Meta{
				What:    "Go train " + strings.Join(rest, ", "),
				Skipped: fmt.Sprintf("time budget: %.0f s used of %.0f s, a training process takes about %.0f s per model", used.Seconds(), p.Budget.Seconds(), perSpec)}}
			st.logf("%s: skipped (%s)", g.What, g.Skipped)
			res.Variants = append(res.Variants, g)
		}
	}
}

// profilesReserve is what a run keeps of its budget for a profile: at 224 px four variants' training
// steps take about a minute to build and trace on 2 CPUs, Keras's half a minute more, the inference
// heads less.
const profilesReserve = 4 * time.Minute

// profiles takes the plan's per-op profiles, the Go variants of each in a worker process and Keras
// (KerasVariant) in the Keras script, skipping those that would end past the budget. Without a
// Python the Keras column is left out and the Go variants are profiled all the same (the report
// already says the peers were skipped).
func (st *runState) profiles() {
	for _, spec := range st.Plan.Profiles {
		spec.Python, spec.KerasScript = st.Python, filepath.Join(st.Root, KerasScript)
		if st.Python == "" && slices.Contains(spec.Variants, KerasVariant) {
			if spec = spec.goVariants(); len(spec.Variants) == 0 {
				continue
			}
		}
		pr := ProfileRun{Spec: spec}
		what := fmt.Sprintf("Go profile %s %dpx batch %d", strings.Join(spec.Variants, ", "), spec.ImageSize, spec.Batch)
		if spec.Inference {
			what += " (inference)"
		}
		if used := time.Since(st.budgetStart); st.Plan.Budget > 0 && used+profilesReserve > st.Plan.Budget {
			pr.What = what
			pr.Skipped = fmt.Sprintf("time budget: %.0f s used of %.0f s", used.Seconds(), st.Plan.Budget.Seconds())
			st.logf("%s: skipped (%s)", what, pr.Skipped)
		} else {
			st.measure(&pr.Meta, what, func() error {
				var err error
				pr.Result, err = profileWith(st.ctx, spec, st.Exec, func(_ context.Context, g ProfileSpec) (*Profile, error) {
					var p Profile
					if err := st.runWorker(WorkProfile, g, g.Settings.Env(), &p); err != nil {
						return nil, err
					}
					return &p, nil
				})
				return err
			})
		}
		st.res.Profiles = append(st.res.Profiles, pr)
	}
}

// group measures the specs side by side in one worker process into g.
func (st *runState) group(g *VariantGroup, specs []TrainSpec) {
	p := st.Plan
	what := fmt.Sprintf("Go train %s side by side %dpx batch %d (%s)", strings.Join(g.Attention, ", "), p.Train.ImageSize, p.Train.Batch, g.Settings)
	st.measure(&g.Meta, what, func() error {
		return st.runWorker(WorkTrainGroup, specs, g.Settings.Env(), &g.Results)
	})
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
	if len(res.TrainPairs) > 0 {
		res.TrainRatio = res.TrainPairs[0].Ratio
	}
	for i, ip := range res.InferPairs {
		switch {
		case i == 0:
			res.InferB1Ratio, res.InferB16Ratio = ip.B1, ip.B16
			if g := ip.Go; g.OK() && g.Result != nil {
				for _, b := range g.Result.Batches {
					switch b.Batch {
					case 1:
						res.InferB1MSGo = b.MedianMS
					case 16:
						res.InferB16ImgSGo = b.ImagesPerSec
					}
				}
			}
			if py := ip.Python; py.OK() {
				for _, b := range py.Batches {
					switch b.Batch {
					case 1:
						res.InferB1MSPython = b.MedianMS
					case 16:
						res.InferB16ImgSPython = b.ImagesPerSec
					}
				}
			}
		case ip.Pair == InferPair{GoOptimized: true}:
			res.InferOptB1Ratio, res.InferOptB16Ratio = ip.B1, ip.B16
		}
		if res.PythonTF == "" && ip.Python.OK() {
			res.PythonTF = ip.Python.TensorFlow
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
}

// verdictRatio is a ratio with what it says: which side is ahead, or a tie when its pairs disagree.
// higherGo says whether a ratio above 1 means Go is ahead (rates) or behind (times).
func verdictRatio(r Ratio, higherGo bool) string {
	if !r.OK() || r.Tie() {
		return r.String()
	}
	return r.String() + ", " + verdict(r, higherGo)
}

// verdict is "Go ahead", "peer ahead", "tie" or "n/a" for a ratio.
func verdict(r Ratio, higherGo bool) string {
	switch {
	case !r.OK():
		return "n/a"
	case r.Tie():
		return "tie"
	case (r.Median > 1) == higherGo:
		return "Go ahead"
	}
	return "peer ahead"
}
