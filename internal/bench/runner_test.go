package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeExec answers the runner's commands with canned measurements: the Go step takes goStep seconds
// (scaled per variant), Keras's kerasStep, and a step's CPU time is twice its wall time.
type fakeExec struct {
	goStep, kerasStep float64
	fail              map[string]bool // commands (worker kind or script base name) that fail
	breaks            string          // a variant whose group fails with the faster (non-default) knob
	calls             []string
}

func (f *fakeExec) run(_ context.Context, c Command, v any) error {
	name, args := c.Name, c.Args
	what := filepath.Base(args[0])
	if name == "self" {
		what = args[1]
	}
	f.calls = append(f.calls, what)
	if f.fail[what] {
		return errors.New(what + " broke\nwith a second line")
	}
	timing := func(step float64, n int) Timing {
		t := Timing{CPUSeconds: 2 * step * float64(n)}
		for range n {
			t.Seconds = append(t.Seconds, step)
		}
		return t
	}
	trainResult := func(spec TrainSpec) TrainResult {
		step := f.goStep * map[string]float64{"none": 1, "csca": 1.25, "ca": 1.1, "sa": 1.05, "fcn": 1}[spec.Attention]
		if spec.Settings.InterOpThreads == 1 { // a faster knob
			step /= 2
		}
		r := TrainResult{Spec: spec, Params: 1e6, ForwardMACs: 1e9, StepGFLOP: TrainStepFLOPs(1e9, spec.Batch) / 1e9,
			Step: timing(step, spec.Steps), FirstStepSeconds: 3 * step}
		r.ImagesPerSec = r.Step.Rate(float64(spec.Batch))
		r.GFLOPs = r.Step.Rate(r.StepGFLOP)
		r.GFLOPsPerCPUSecond = r.StepGFLOP / r.Step.CPUPerRun()
		return r
	}
	var out any
	switch what {
	case WorkTrain:
		var spec TrainSpec
		if err := json.Unmarshal([]byte(args[3]), &spec); err != nil {
			return err
		}
		out = trainResult(spec)
	case WorkTrainGroup:
		var specs []TrainSpec
		if err := json.Unmarshal([]byte(args[3]), &specs); err != nil {
			return err
		}
		for _, s := range specs {
			if s.Attention == f.breaks && s.Settings.InterOpThreads == 1 {
				return errors.New("bench: train benchmark " + s.Attention + ": loss NaN after 6 steps")
			}
		}
		var rs []TrainResult
		for _, s := range specs {
			rs = append(rs, trainResult(s))
		}
		out = rs
	case WorkPeak:
		out = PeakResult{Run: timing(0.1, 3), GFLOPs: 100, MedianGFLOPs: 90, GFLOPsPerCPUSecond: 60}
	case WorkExport:
		out = InferSpec{}
	case WorkInfer:
		out = InferResult{Batches: []InferBatch{
			{Batch: 1, Predict: timing(0.02, 3), Tensor: timing(0.019, 3), MedianMS: 20, ImagesPerSec: 50},
			{Batch: 16, Predict: timing(0.2, 3), Tensor: timing(0.19, 3), MedianMS: 200, ImagesPerSec: 80},
		}}
	case WorkPipeline:
		out = PipelineResult{JPEGDecoder: "libjpeg-turbo", Images: 64, Seconds: 0.5, ImagesPerSec: 128}
	case "keras_train.py":
		xla := strings.Contains(strings.Join(args, " "), "--xla")
		step := f.kerasStep
		if xla { // a faster knob
			step /= 2
		}
		k := KerasTrain{Step: timing(step, 3), ForwardMACs: 9e8, Params: 1e6, TensorFlow: "2.x", Keras: "3.x", XLA: xla}
		for i, a := range args[:len(args)-1] {
			switch a {
			case "--intra":
				k.IntraOpThreads, _ = strconv.Atoi(args[i+1])
			case "--inter":
				k.InterOpThreads, _ = strconv.Atoi(args[i+1])
			}
		}
		k.ImagesPerSec = k.Step.Rate(8)
		out = k
	case "infer_savedmodel.py":
		out = PyInfer{TensorFlow: "2.x", Batches: []PyInferBatch{
			{Batch: 1, MedianMS: 25, ImagesPerSec: 40, Numpy: timing(0.025, 3), Tensor: timing(0.024, 3), Signature: timing(0.026, 3)},
			{Batch: 16, MedianMS: 210, ImagesPerSec: 76, Numpy: timing(0.21, 3), Tensor: timing(0.2, 3), Signature: timing(0.22, 3)},
		}}
	case "bench_tfdata.py":
		out = TFData{Workers: 2, Images: 64, Seconds: 1, ImagesPerSec: 64}
	default:
		return fmt.Errorf("unexpected command %s %v", name, args)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// pair runs both commands of a lockstep pair one after the other, checking the lockstep flags.
func (f *fakeExec) pair(ctx context.Context, a, b Command, rounds int, va, vb any) error {
	for _, c := range []Command{a, b} {
		if last := c.Args[len(c.Args)-1]; !strings.Contains(strings.Join(c.Args, " "), "lockstep") {
			return fmt.Errorf("%s runs in a pair without its lockstep flag (last argument %q)", c, last)
		}
	}
	if rounds < 1 {
		return fmt.Errorf("pair of %d rounds", rounds)
	}
	if err := f.run(ctx, a, va); err != nil {
		return err
	}
	return f.run(ctx, b, vb)
}

// testPlan is a quick plan on 2 CPUs with tiny synthetic images and a second, faster candidate.
func testPlan(t *testing.T) Plan {
	t.Helper()
	p, err := PlanFor(Quick, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.SynthClasses, p.SynthPerClass, p.SynthSize = 2, 2, 32
	p.Candidates = append(p.Candidates, Settings{IntraOpThreads: 2, InterOpThreads: 1})
	p.KerasXLA = []bool{false, true}
	p.Knobs = p.Train
	p.Budget = 0
	return p
}

func TestRunner(t *testing.T) {
	tests := []struct {
		name         string
		goStep       float64
		budget       time.Duration
		fail         string
		wantErr      bool
		wantVariants int // measured, not skipped
		wantInMD     []string
	}{
		{"go faster", 1, 0, "", false, 4, []string{"QUICK MODE", "| Go `none` (chosen) | intra=2 inter=1 | 16.00 |",
			"| Keras ResNet50 (chosen) | intra=2 inter=2 jit_compile=true | 8.00 |", "Go intra=2 inter=1, Keras jit_compile=true", "| Training, ResNet-50 `none`, img/s | 16.00 | 8.00 (Keras) | 2.00 | Go ≥ Keras | yes |",
			"| `csca` | intra=2 inter=1 | 12.80 | 0.62 | 16.00 | +25.0% | +25.0% |", "Inference batch 1, median ms | 20.0 | 25.0 (Python TF) | 0.80 | Go ≤ Python | yes"}},
		{"go slower", 8, 0, "", false, 4, []string{"| 2.00 | 8.00 (Keras) | 0.25 | Go ≥ Keras | **no** |", "Why Go loses here"}},
		{"budget spent", 1, time.Nanosecond, "", false, 0, []string{"skipped: time budget"}},
		{"keras fails", 1, 0, "keras_train.py", true, 4, []string{"| Keras ResNet50 | intra=2 inter=1 jit_compile=false | failed: keras_train.py broke |",
			"| Keras ResNet50 | intra=2 inter=2 jit_compile=true | failed: keras_train.py broke |"}},
		{"export fails", 1, 0, WorkExport, true, 4, []string{"Go inference failed: export broke"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeExec{goStep: tc.goStep, kerasStep: 2, fail: map[string]bool{tc.fail: true}}
			p := testPlan(t)
			p.Budget = tc.budget
			r := &Runner{Plan: p, Self: "self", Python: "python", Root: "/repo", Work: t.TempDir(), Exec: f.run, Pair: f.pair, Command: "test"}
			res, err := r.Run(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Run error %v, want error %v", err, tc.wantErr)
			}
			if want := (Settings{IntraOpThreads: 2, InterOpThreads: 1}); res.Settings != want {
				t.Errorf("chosen settings %v, want the faster candidate %v", res.Settings, want)
			}
			measured, all := 0, 0
			for _, g := range res.Variants {
				if g.OK() {
					measured += len(g.Results) - 1
				}
				all += len(g.Attention) - 1
			}
			if measured != tc.wantVariants || all != 4 {
				t.Errorf("%d of %d variants measured, want %d of 4", measured, all, tc.wantVariants)
			}
			if res.TrainImgSGo != 8/(tc.goStep/2) || res.PeakGFLOPs != 100 || res.PipelineImgSGo != 128 || res.PipelineImgSTFData != 64 {
				t.Errorf("headline %v %v %v %v", res.TrainImgSGo, res.PeakGFLOPs, res.PipelineImgSGo, res.PipelineImgSTFData)
			}
			if tc.fail != "keras_train.py" && (res.TrainImgSKeras != 8 || !res.KerasXLA) {
				t.Errorf("train_img_s_keras %v with jit_compile=%v, want 8 with the faster jit_compile=true", res.TrainImgSKeras, res.KerasXLA)
			}
			md := res.Markdown()
			for _, s := range tc.wantInMD {
				if !strings.Contains(md, s) {
					t.Errorf("report lacks %q:\n%s", s, md)
				}
			}
			js, err := res.JSON()
			if err != nil {
				t.Fatal(err)
			}
			// A quick report summarises the last full run, read back from its JSON.
			path := filepath.Join(t.TempDir(), "results-full.json")
			if err := WriteFile(path, js); err != nil {
				t.Fatal(err)
			}
			full, err := ReadResults(path)
			if err != nil {
				t.Fatal(err)
			}
			if full.TrainImgSGo != res.TrainImgSGo || len(full.Notes) != len(res.Notes) {
				t.Errorf("results read back: %v img/s and %d notes, want %v and %d", full.TrainImgSGo, len(full.Notes), res.TrainImgSGo, len(res.Notes))
			}
			res.LastFull = full
			if !strings.Contains(res.Markdown(), "## Last full run (`make bench`)") {
				t.Error("quick report without the last full run's summary")
			}
			var keys map[string]any
			if err := json.Unmarshal(js, &keys); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"train_img_s_go", "train_img_s_keras", "infer_b1_ms_go", "infer_b1_ms_python", "pipeline_img_s_go",
				"pipeline_img_s_tfdata", "step_gflops", "peak_gflops", "settings", "machine", "plan"} {
				if _, ok := keys[k]; !ok {
					t.Errorf("results.json lacks %s", k)
				}
			}
		})
	}
}

func TestRunnerVariantRetry(t *testing.T) {
	f := &fakeExec{goStep: 1, kerasStep: 2, breaks: "ca"}
	p := testPlan(t)
	p.VariantsPerGroup = 1
	r := &Runner{Plan: p, Self: "self", Python: "python", Root: "/repo", Work: t.TempDir(), Exec: f.run, Pair: f.pair}
	res, err := r.Run(context.Background())
	if err == nil {
		t.Error("Run hid the failed variant")
	}
	var got []string
	for _, g := range res.Variants {
		got = append(got, fmt.Sprintf("%s/%d/%v", g.Attention[1], g.Settings.InterOpThreads, g.OK()))
	}
	if want := "csca/1/true ca/1/false ca/2/true sa/1/true fcn/1/true"; strings.Join(got, " ") != want {
		t.Errorf("variant groups %v, want %s (ca again with the defaults)", got, want)
	}
	md := res.Markdown()
	for _, s := range []string{"| `ca` | intra=2 inter=1 | failed: bench: train benchmark ca: loss NaN after 6 steps |",
		"| `ca` | intra=2 inter=2 | 7.27 |", "Variants ca failed with the chosen settings intra=2 inter=1"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestRunnerWithoutPython(t *testing.T) {
	f := &fakeExec{goStep: 1, kerasStep: 1}
	p := testPlan(t)
	p.Variants = nil
	r := &Runner{Plan: p, Self: "self", Work: t.TempDir(), Exec: f.run, Pair: f.pair}
	res, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "5 measurement(s) failed") {
		t.Errorf("error %v, want the five Python runs (two Keras knobs, Keras, inference, tf.data) reported as failed", err)
	}
	for _, c := range f.calls {
		if strings.HasSuffix(c, ".py") {
			t.Errorf("ran %s without a Python", c)
		}
	}
	if res.TrainImgSGo <= 0 || res.TrainImgSKeras != 0 || !strings.Contains(res.Markdown(), "make pyenv") {
		t.Errorf("Go %v, Keras %v; the report should say how to get the peers", res.TrainImgSGo, res.TrainImgSKeras)
	}
}
