package bench

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
)

// tinyProfile profiles ResNet-18s on 32×32 images.
func tinyProfile(inference bool, variants ...string) ProfileSpec {
	return ProfileSpec{Variants: variants, Depth: 18, ImageSize: 32, Batch: 2, Classes: 3, Steps: 2, Inference: inference, Top: 5,
		Settings: Settings{IntraOpThreads: 1, InterOpThreads: 1}}
}

func TestProfileSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec ProfileSpec
		ok   bool
	}{
		{"two variants", tinyProfile(false, "none", "csca"), true},
		{"no variant", tinyProfile(false), false},
		{"repeated variant", tinyProfile(false, "none", "none"), false},
		{"no steps", func() ProfileSpec { s := tinyProfile(false, "none"); s.Steps = 0; return s }(), false},
		{"negative top", func() ProfileSpec { s := tinyProfile(false, "none"); s.Top = -1; return s }(), false},
	}
	for _, tt := range tests {
		if err := tt.spec.validate(); (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestReduceStepsProfile: medians over steps count a missing op type or node as 0 in that step.
func TestReduceStepsProfile(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	steps := []*ops.StepStats{
		{Span: us(900), Nodes: []ops.NodeStat{{Name: "conv", Kernel: "Conv2D", Wall: us(600)}, {Name: "relu", Kernel: "Relu", Wall: us(200)}, {Name: "gate", Kernel: "Sigmoid", Wall: us(100)}}},
		{Span: us(1000), Nodes: []ops.NodeStat{{Name: "conv", Kernel: "Conv2D", Wall: us(800)}, {Name: "relu", Kernel: "Relu", Wall: us(200)}}},
		{Span: us(1100), Nodes: []ops.NodeStat{{Name: "conv", Kernel: "Conv2D", Wall: us(700)}, {Name: "relu", Kernel: "Relu", Wall: us(300)}, {Name: "relu2", GraphOp: "Relu", Wall: us(100)}}},
	}
	vp := reduceSteps("none", steps, 2)
	if vp.SumMs != 1.0 || vp.SpanMs != 1.0 {
		t.Errorf("sum %v ms, span %v ms; want 1, 1", vp.SumMs, vp.SpanMs)
	}
	// Relu: 200, 200, 400 µs (relu2 counts under its graph op); Sigmoid 100, 0, 0.
	want := []OpProfile{{"Conv2D", 0.7, 0.7 / 0.9, 1}, {"Relu", 0.2, 0.2 / 0.9, 2}, {"Sigmoid", 0, 0, 1}}
	if len(vp.Ops) != len(want) {
		t.Fatalf("ops %+v, want %+v", vp.Ops, want)
	}
	for i, o := range vp.Ops {
		w := want[i]
		if o.Op != w.Op || o.Nodes != w.Nodes || math.Abs(o.MedianMs-w.MedianMs) > 1e-9 || math.Abs(o.Share-w.Share) > 1e-9 {
			t.Errorf("op %d: %+v, want %+v", i, o, w)
		}
	}
	wantTop := []NodeProfile{{Name: "conv", Kernel: "Conv2D", MedianMs: 0.7}, {Name: "relu", Kernel: "Relu", MedianMs: 0.2}}
	if !reflect.DeepEqual(vp.Top, wantTop) {
		t.Errorf("top %+v, want %+v", vp.Top, wantTop)
	}
}

func TestProfileMarkdown(t *testing.T) {
	p := &Profile{Spec: tinyProfile(false, "none", "csca"), Variants: []VariantProfile{
		{Attention: "none", SumMs: 10, SpanMs: 8, Ops: []OpProfile{{"Conv2D", 8, 0.8, 20}, {"Relu", 2, 0.2, 16}}},
		{Attention: "csca", SumMs: 13, SpanMs: 10, Ops: []OpProfile{{"Conv2D", 8.5, 0.65, 20}, {"Sigmoid", 2.5, 0.19, 8}, {"Relu", 2, 0.15, 16}},
			Top: []NodeProfile{{Name: "layer1/0/conv", Kernel: "_MklNativeConv2D", GraphOp: "Conv2D", MedianMs: 1.25}}},
	}}
	md := p.Markdown()
	for _, want := range []string{
		"| Op type | `none` ms | share | nodes | `csca` ms | share | nodes | `csca` − `none` ms |",
		"| Conv2D | 8.00 | 80.0% | 20 | 8.50 | 65.0% | 20 | +0.50 |",
		"| Relu | 2.00 | 20.0% | 16 | 2.00 | 15.0% | 16 | +0.00 |",
		"| Sigmoid | 0.00 | 0.0% | 0 | 2.50 | 19.0% | 8 | +2.50 |",
		"| **node time** | 10.00 | | | 13.00 | | | +3.00 (+30.0%) |",
		"| **step span** | 8.00 | | | 10.00 | | | +2.00 (+25.0%) |",
		"| layer1/0/conv | _MklNativeConv2D | Conv2D | 1.25 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Rows follow the first variant's order; the op types it lacks come after.
	if c, r, s := strings.Index(md, "| Conv2D |"), strings.Index(md, "| Relu |"), strings.Index(md, "| Sigmoid |"); !(c < r && r < s) {
		t.Errorf("row order Conv2D %d, Relu %d, Sigmoid %d:\n%s", c, r, s, md)
	}
}

// TestRunProfile traces the tiny models' training steps and inference heads: convolution kernels
// lead, csca runs the gates' sigmoids that none has, and the top nodes are the graph's.
func TestRunProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four ResNet-18 training graphs")
	}
	for _, inference := range []bool{false, true} {
		p, err := RunProfile(context.Background(), tinyProfile(inference, "none", "csca"))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Variants) != 2 {
			t.Fatalf("inference=%v: %d variants, want 2", inference, len(p.Variants))
		}
		for _, v := range p.Variants {
			if v.SumMs <= 0 || v.SpanMs <= 0 || len(v.Top) != 5 || v.Top[0].MedianMs <= 0 {
				t.Errorf("inference=%v %s: sum %v, span %v, top %+v", inference, v.Attention, v.SumMs, v.SpanMs, v.Top)
			}
			var conv, share float64
			for _, o := range v.Ops {
				share += o.Share
				if strings.Contains(o.Op, "Conv2D") {
					conv += o.MedianMs
				}
			}
			if conv <= 0 || math.Abs(share-1) > 1e-6 {
				t.Errorf("inference=%v %s: conv %v ms, shares sum to %v in %+v", inference, v.Attention, conv, share, v.Ops)
			}
		}
		sig := func(v VariantProfile) int {
			n := 0
			for _, o := range v.Ops {
				if strings.Contains(o.Op, "Sigmoid") {
					n += o.Nodes
				}
			}
			return n
		}
		if sig(p.Variants[1]) <= sig(p.Variants[0]) {
			t.Errorf("inference=%v: csca runs %d sigmoid nodes, none %d; want more", inference, sig(p.Variants[1]), sig(p.Variants[0]))
		}
		t.Logf("inference=%v:\n%s", inference, p.Markdown())
	}
	if _, err := RunProfile(context.Background(), tinyProfile(false, "none", "bogus")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown variant: err %v, want one naming it", err)
	}
}

func TestProfileSpecValidateKeras(t *testing.T) {
	tests := []struct {
		name    string
		depth   int
		variant []string
		wantErr string
	}{
		{"keras at depth 50", 50, []string{"none", KerasVariant}, ""},
		{"keras as the baseline", 50, []string{KerasVariant, "csca"}, ""},
		{"keras at depth 18", 18, []string{"none", KerasVariant}, "depth is 18"},
		{"Go variants at depth 18", 18, []string{"none", "csca"}, ""},
	}
	for _, tt := range tests {
		s := tinyProfile(false, tt.variant...)
		s.Depth = tt.depth
		err := s.validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestKerasStepStats converts the Keras script's profile JSON; a bad field gives an error naming it.
func TestKerasStepStats(t *testing.T) {
	const good = `{"images_per_s": 1, "profile": {"inference": false, "steps": [
		{"span_us": 12.5, "nodes": [
			{"name": "resnet50_1/conv1_conv_1/convolution", "op": "_MklNativeConv2D", "start_us": 0, "wall_us": 10.25},
			{"name": "sgd/Mul_3", "op": "Mul", "start_us": 10.5, "wall_us": 2}]},
		{"span_us": 3, "nodes": [{"name": "sgd/Mul_3", "op": "Mul", "start_us": 0, "wall_us": 3}]}]}}`
	us := func(f float64) time.Duration { return time.Duration(f * float64(time.Microsecond)) }
	tests := []struct {
		name      string
		json      string
		steps     int
		inference bool
		want      []*ops.StepStats
		wantErr   string
	}{
		{"two steps", good, 2, false, []*ops.StepStats{
			{Span: us(12.5), Nodes: []ops.NodeStat{
				{Name: "resnet50_1/conv1_conv_1/convolution", Kernel: "_MklNativeConv2D", Device: "/host:CPU", Wall: us(10.25)},
				{Name: "sgd/Mul_3", Kernel: "Mul", Device: "/host:CPU", Start: us(10.5), Wall: us(2)}}},
			{Span: us(3), Nodes: []ops.NodeStat{{Name: "sgd/Mul_3", Kernel: "Mul", Device: "/host:CPU", Wall: us(3)}}},
		}, ""},
		{"no profile", `{"images_per_s": 1}`, 1, false, nil, `no "profile" key`},
		{"wrong step count", good, 3, false, nil, "profile.steps has 2 steps, want 3"},
		{"inference expected", good, 2, true, nil, "profile.inference is false, want true"},
		{"inference missing", `{"profile": {"steps": []}}`, 0, false, nil, "profile.inference missing"},
		{"span missing", `{"profile": {"inference": false, "steps": [{"nodes": [{"name": "a", "op": "Mul", "start_us": 0, "wall_us": 1}]}]}}`, 1, false, nil, "profile.steps[0].span_us missing"},
		{"no nodes", `{"profile": {"inference": false, "steps": [{"span_us": 1, "nodes": []}]}}`, 1, false, nil, "profile.steps[0].nodes is empty"},
		{"no op", `{"profile": {"inference": false, "steps": [{"span_us": 1, "nodes": [{"name": "a", "start_us": 0, "wall_us": 1}]}]}}`, 1, false, nil, "profile.steps[0].nodes[0]: name \"a\", op \"\""},
		{"negative wall", `{"profile": {"inference": false, "steps": [{"span_us": 1, "nodes": [{"name": "a", "op": "Mul", "start_us": 0, "wall_us": -1}]}]}}`, 1, false, nil, "profile.steps[0].nodes[0].wall_us is -1"},
		{"start missing", `{"profile": {"inference": false, "steps": [{"span_us": 1, "nodes": [{"name": "a", "op": "Mul", "wall_us": 1}]}]}}`, 1, false, nil, "profile.steps[0].nodes[0].start_us missing"},
	}
	for _, tt := range tests {
		var out kerasProfileOutput
		if err := json.Unmarshal([]byte(tt.json), &out); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := out.stepStats(tt.steps, tt.inference)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		} else if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestProfileWithKeras: the Keras column comes from the script's output through exec, the Go ones
// from one Go profile without it, in the spec's order (the first the baseline), and the script is
// asked for the spec's steps, threads and mode.
func TestProfileWithKeras(t *testing.T) {
	spec := tinyProfile(true, KerasVariant, "none", "csca")
	spec.Depth, spec.Python, spec.KerasScript = 50, "py", "/repo/bench/keras_train.py"
	var asked Command
	exec := func(_ context.Context, c Command, v any) error {
		asked = c
		return json.Unmarshal([]byte(`{"profile": {"inference": true, "steps": [
			{"span_us": 1000, "nodes": [{"name": "c", "op": "Conv2D", "start_us": 0, "wall_us": 1000}]},
			{"span_us": 3000, "nodes": [{"name": "c", "op": "Conv2D", "start_us": 0, "wall_us": 3000}]}]}}`), v)
	}
	var goAsked []string
	goProfile := func(_ context.Context, s ProfileSpec) (*Profile, error) {
		goAsked = s.Variants
		p := &Profile{Spec: s}
		for _, v := range s.Variants {
			p.Variants = append(p.Variants, VariantProfile{Attention: v, SumMs: 1})
		}
		return p, nil
	}
	p, err := profileWith(context.Background(), spec, exec, goProfile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range p.Variants {
		got = append(got, v.Attention)
	}
	if !slices.Equal(got, spec.Variants) || !slices.Equal(goAsked, []string{"none", "csca"}) || !slices.Equal(p.Spec.Variants, spec.Variants) {
		t.Errorf("columns %v from Go variants %v, spec %v; want %v from [none csca]", got, goAsked, p.Spec.Variants, spec.Variants)
	}
	if k := p.Variants[0]; k.SpanMs != 2 || len(k.Ops) != 1 || k.Ops[0].Op != "Conv2D" || k.Ops[0].MedianMs != 2 {
		t.Errorf("keras column %+v, want the median of the script's two steps", k)
	}
	args := strings.Join(asked.Args, " ")
	for _, want := range []string{"/repo/bench/keras_train.py ", "--size 32", "--batch 2", "--classes 3", "--intra 1", "--inter 1", "--profile-steps 2", "--profile-inference"} {
		if asked.Name != "py" || !strings.Contains(args, want) {
			t.Errorf("script run as %s, want %q among its arguments", asked, want)
		}
	}
	spec.Python = ""
	if _, err := profileWith(context.Background(), spec, exec, goProfile); err == nil || !strings.Contains(err.Error(), "make pyenv") {
		t.Errorf("without a Python: err %v, want one saying how to get it", err)
	}
}

// TestRunProfileKeras runs the real Keras script on 32×32 images and traces one step.
func TestRunProfileKeras(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Keras's ResNet50 and traces its step")
	}
	py := pyref.TensorFlow(t)
	root, err := pyref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	spec := ProfileSpec{Variants: []string{KerasVariant}, Depth: 50, ImageSize: 32, Batch: 2, Classes: 3, Steps: 1, Top: 3,
		Settings: Settings{IntraOpThreads: 1, InterOpThreads: 1}, Python: py, KerasScript: filepath.Join(root, KerasScript)}
	p, err := RunProfile(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	k := p.Variants[0]
	var conv int
	for _, o := range k.Ops {
		if strings.Contains(o.Op, "Conv2D") {
			conv += o.Nodes
		}
	}
	// ResNet50 has 53 convolutions, each with a forward kernel and one or two backward ones.
	if k.Attention != KerasVariant || k.SpanMs <= 0 || k.SumMs <= 0 || conv < 53 || len(k.Top) != 3 {
		t.Errorf("keras profile: span %v ms, node time %v ms, %d convolution nodes, top %+v", k.SpanMs, k.SumMs, conv, k.Top)
	}
	t.Logf("\n%s", p.Markdown())
}
