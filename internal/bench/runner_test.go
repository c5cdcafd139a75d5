package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	case WorkProfile:
		var spec ProfileSpec
		if err := json.Unmarshal([]byte(args[3]), &spec); err != nil {
			return err
		}
		if slices.Contains(spec.Variants, KerasVariant) {
			return fmt.Errorf("the profile worker was asked for %s, which the Keras script profiles", KerasVariant)
		}
		p := Profile{Spec: spec}
		for i, a := range spec.Variants {
			extra := 10 * float64(i)
			p.Variants = append(p.Variants, VariantProfile{Attention: a, SumMs: 100 + extra, SpanMs: 60 + extra,
				Ops: []OpProfile{{Op: "Conv2D", MedianMs: 90, Share: 0.9, Nodes: 3}, {Op: "Mul", MedianMs: 10 + extra, Share: 0.1, Nodes: 1 + i}}})
		}
		out = p
	case "keras_train.py":
		xla := strings.Contains(strings.Join(args, " "), "--xla")
		k := KerasTrain{Step: timing(f.kerasStep, 3), ForwardMACs: 9e8, Params: 1e6, TensorFlow: "2.x", Keras: "3.x", XLA: xla}
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
		if steps := argValue(args, "--profile-steps"); steps != "" {
			n, err := strconv.Atoi(steps)
			if err != nil {
				return err
			}
			out = fakeKerasProfile(k, n, slices.Contains(args, "--profile-inference"))
		}
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

// argValue is the value after flag in args, "" when it is absent.
func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// fakeKerasProfile is the Keras script's output with n traced steps of three nodes: a 40 µs
// convolution, a 5 µs multiplication and a 3 µs assignment that Go's graph does not run.
func fakeKerasProfile(k KerasTrain, n int, inference bool) map[string]any {
	b, _ := json.Marshal(k)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	var steps []any
	for range n {
		steps = append(steps, map[string]any{"span_us": 50, "nodes": []any{
			map[string]any{"name": "resnet50_1/conv1_conv_1/convolution", "op": "Conv2D", "start_us": 0, "wall_us": 40},
			map[string]any{"name": "sgd/Mul_1", "op": "Mul", "start_us": 40, "wall_us": 5},
			map[string]any{"name": "sgd/AssignAddVariableOp", "op": "AssignAddVariableOp", "start_us": 45, "wall_us": 3},
		}})
	}
	out["profile"] = map[string]any{"inference": inference, "steps": steps}
	return out
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

// testPlan is a quick plan on 2 CPUs with tiny synthetic images.
func testPlan(t *testing.T) Plan {
	t.Helper()
	p, err := PlanFor(Quick, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.SynthClasses, p.SynthPerClass, p.SynthSize = 2, 2, 32
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
		{"go faster", 1, 0, "", false, 4, []string{
			"| Training img/s, Go / Keras (intra=2 inter=2, jit_compile off) | 2.00 (2.00–2.00, 3 pairs) | Go ahead |",
			"| Inference batch-1 ms, Go / Python (original SavedModel) | 0.80 (0.80–0.80, 3 pairs) | Go ahead |",
			"| Inference batch-16 img/s, Go optimised / Python original | 1.05 (1.05–1.05, 3 pairs) | Go ahead |",
			"| `csca` | 6.40 | 1.25 | 8.00 | +25.0% | +25.0% |"}},
		{"go slower", 4, 0, "", false, 4, []string{"| 0.50 (0.50–0.50, 3 pairs) | peer ahead |"}},
		{"tie", 2, 0, "", false, 4, []string{"| 1.00 (1.00–1.00, 3 pairs, tie) | tie |"}},
		{"budget spent", 1, time.Nanosecond, "", false, 0, []string{"skipped: time budget"}},
		{"keras fails", 1, 0, "keras_train.py", true, 4, []string{"| 1: intra=2 inter=2 / jit_compile=false | Keras ResNet50 | failed: keras_train.py broke |",
			"| Training img/s, Go / Keras (intra=2 inter=2, jit_compile off) | n/a | n/a |"}},
		{"export fails", 1, 0, WorkExport, true, 4, []string{"| Go original / Python original | | failed: export broke |"}},
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
			if res.TrainImgSGo != 8/tc.goStep || res.PeakGFLOPs != 100 || res.PipelineImgSGo != 128 || res.PipelineImgSTFData != 64 {
				t.Errorf("headline %v %v %v %v", res.TrainImgSGo, res.PeakGFLOPs, res.PipelineImgSGo, res.PipelineImgSTFData)
			}
			if len(res.InferPairs) != len(p.InferPairs) {
				t.Errorf("%d inference pairs measured, want %d", len(res.InferPairs), len(p.InferPairs))
			}
			md := res.Tables()
			for _, s := range tc.wantInMD {
				if !strings.Contains(md, s) {
					t.Errorf("tables lack %q:\n%s", s, md)
				}
			}
			js, err := res.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var keys map[string]any
			if err := json.Unmarshal(js, &keys); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"train_img_s_go", "train_img_s_keras", "infer_b1_ms_go", "infer_b1_ms_python", "pipeline_img_s_go",
				"pipeline_img_s_tfdata", "step_gflops", "peak_gflops", "train_ratio", "infer_b1_ratio", "infer_b16_ratio", "settings", "machine", "plan"} {
				if _, ok := keys[k]; !ok {
					t.Errorf("results.json lacks %s", k)
				}
			}
		})
	}
}

// TestRunnerProfiles checks that the plan's profiles run in worker processes after the variants, land in
// the results and the report, and are skipped, saying why, when the budget is spent.
func TestRunnerProfiles(t *testing.T) {
	tests := []struct {
		name        string
		budget      time.Duration
		python      string
		wantRuns    int
		wantKeras   int      // Keras profiles run (the training profile names keras, the inference one does not)
		wantTrain   []string // the training profile's columns
		wantInMD    []string
		wantNotInMD []string
	}{
		{"measured", 0, "python", 2, 1, []string{"none", "csca", KerasVariant}, []string{"Per-op profile of the training step", "Per-op profile of the inference head", "| Mul | 10.00 |",
			"`keras` − `none` ms |", "| Conv2D | 90.00 | 90.0% | 3 | 90.00 | 90.0% | 3 | +0.00 | 0.04 | 83.3% | 1 | -89.96 |",
			"| AssignAddVariableOp | 0.00 | 0.0% | 0 | 0.00 | 0.0% | 0 | +0.00 | 0.00 | 6.2% | 1 | +0.00 |",
			"| **step span** | 60.00 | | | 70.00 | | | +10.00 (+16.7%) | 0.05 | | | -59.95 (-99.9%) |"}, nil},
		{"without python", 0, "", 2, 0, []string{"none", "csca"}, []string{"| Mul | 10.00 |"}, []string{"`keras`"}},
		{"budget spent", time.Nanosecond, "python", 0, 0, nil, []string{"### Go profile none, csca, keras 112px batch 2\n\nSkipped: time budget", "(inference)\n\nSkipped: time budget"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeExec{goStep: 1, kerasStep: 1}
			p := testPlan(t)
			p.Variants = nil
			p.Budget = tc.budget
			base := ProfileSpec{Variants: []string{"none", "csca", KerasVariant}, Depth: 50, ImageSize: 112, Batch: 2, Classes: 10, Steps: 2, Settings: p.Train.Settings}
			inference := base
			inference.Variants = []string{"none", "csca"}
			inference.Inference = true
			p.Profiles = []ProfileSpec{base, inference}
			r := &Runner{Plan: p, Self: "self", Python: tc.python, Root: "/repo", Work: t.TempDir(), Exec: f.run, Pair: f.pair, Command: "test"}
			res, err := r.Run(context.Background())
			if tc.python != "" && err != nil {
				t.Fatal(err)
			}
			ran, keras := 0, 0
			for _, c := range f.calls {
				switch c {
				case WorkProfile:
					ran++
				case filepath.Base(KerasScript):
					keras++
				}
			}
			if tc.python != "" {
				keras-- // the training pair's Keras step
			}
			if ran != tc.wantRuns || keras != tc.wantKeras || len(res.Profiles) != 2 {
				t.Fatalf("%d profile workers and %d Keras profiles ran, %d profiles recorded; want %d, %d and 2", ran, keras, len(res.Profiles), tc.wantRuns, tc.wantKeras)
			}
			if tc.wantRuns > 0 && (res.Profiles[1].Result == nil || !res.Profiles[1].Result.Spec.Inference) {
				t.Errorf("second profile %+v, want the inference one's result", res.Profiles[1])
			}
			if tc.wantTrain != nil {
				var got []string
				if r := res.Profiles[0].Result; r != nil {
					for _, v := range r.Variants {
						got = append(got, v.Attention)
					}
				}
				if !slices.Equal(got, tc.wantTrain) {
					t.Errorf("training profile's columns %v, want %v (%+v)", got, tc.wantTrain, res.Profiles[0].Meta)
				}
			}
			for _, s := range tc.wantNotInMD {
				if md := res.Tables(); strings.Contains(md, s) {
					t.Errorf("tables have %q:\n%s", s, md)
				}
			}
			md := res.Tables()
			for _, s := range tc.wantInMD {
				if !strings.Contains(md, s) {
					t.Errorf("tables lack %q:\n%s", s, md)
				}
			}
		})
	}
}

func TestRunnerWithoutPython(t *testing.T) {
	f := &fakeExec{goStep: 1, kerasStep: 1}
	p := testPlan(t)
	p.Variants = nil
	r := &Runner{Plan: p, Self: "self", Work: t.TempDir(), Exec: f.run, Pair: f.pair}
	res, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "5 measurement(s) failed") {
		t.Errorf("error %v, want the five Python runs (Keras, three inference pairs, tf.data) reported as failed", err)
	}
	for _, c := range f.calls {
		if strings.HasSuffix(c, ".py") {
			t.Errorf("ran %s without a Python", c)
		}
	}
	if res.TrainImgSGo <= 0 || res.TrainImgSKeras != 0 || !strings.Contains(res.Tables(), "make pyenv") {
		t.Errorf("Go %v, Keras %v; the report should say how to get the peers", res.TrainImgSGo, res.TrainImgSKeras)
	}
}

func TestPairedRatio(t *testing.T) {
	tests := []struct {
		name           string
		num, den       []float64
		ok, tie        bool
		median, lo, hi float64
	}{
		{"ahead", []float64{2, 3, 4}, []float64{1, 1, 2}, true, false, 2, 2, 3},
		{"spans one", []float64{0.9, 1.2, 1.1, 1.0}, []float64{1, 1, 1, 1}, true, true, 1.05, 0.9, 1.2},
		{"too few pairs", []float64{2, 2}, []float64{1, 1}, false, false, 0, 0, 0},
		{"a failed round", []float64{2, 0, 2}, []float64{1, 1, 1}, false, false, 0, 0, 0},
		{"unequal lengths use the common rounds", []float64{1, 1, 1, 9}, []float64{2, 2, 2}, true, false, 0.5, 0.5, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := PairedRatio(tc.num, tc.den)
			if r.OK() != tc.ok || r.Tie() != tc.tie || r.Median != tc.median || r.Min != tc.lo || r.Max != tc.hi {
				t.Errorf("PairedRatio = %+v (ok %v, tie %v), want ok %v tie %v median %v interval %v–%v", r, r.OK(), r.Tie(), tc.ok, tc.tie, tc.median, tc.lo, tc.hi)
			}
		})
	}
}

func TestReportFile(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written.\n\n" + RunsBegin + "\n" + RunsHeader + "| old run |\n" + RunsEnd + "\n\n" +
		TablesBegin + "\nold tables\n" + TablesEnd + "\n\n<!-- serve:begin -->\nserve tables\n<!-- serve:end -->\n"
	got, err := Splice(doc, TablesBegin, TablesEnd, "new tables\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err = AppendRow(got, RunsBegin, RunsEnd, RunsHeader, "| new run |\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Hand-written.", "| old run |\n| new run |\n" + RunsEnd, TablesBegin + "\nnew tables\n" + TablesEnd, "<!-- serve:begin -->\nserve tables\n<!-- serve:end -->"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old tables") {
		t.Errorf("old tables kept:\n%s", got)
	}
	fresh, err := AppendRow("", RunsBegin, RunsEnd, RunsHeader, "| a run |\n")
	if err != nil || !strings.Contains(fresh, RunsHeader+"| a run |\n"+RunsEnd) {
		t.Errorf("AppendRow on an empty file: %q, %v", fresh, err)
	}
	if _, err := Splice(TablesEnd+"\n"+TablesBegin, TablesBegin, TablesEnd, "x"); err == nil {
		t.Error("Splice accepted markers out of order")
	}

	merged, err := MergeJSON([]byte(`{"serve_rps": 12.5, "train_img_s_go": 1, "notes": ["stale"]}`), []byte(`{"train_img_s_go": 2, "mode": "quick"}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(merged, &m); err != nil {
		t.Fatal(err)
	}
	if _, stale := m["notes"]; m["serve_rps"] != 12.5 || m["train_img_s_go"] != 2.0 || m["mode"] != "quick" || stale {
		t.Errorf("merged %v: want serve_rps kept, the run's keys replaced and the retired notes gone", m)
	}
	if _, err := MergeJSON([]byte("not json"), []byte(`{}`)); err == nil {
		t.Error("MergeJSON accepted a damaged results file")
	}
}
