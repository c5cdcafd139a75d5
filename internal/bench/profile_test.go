package bench

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

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
