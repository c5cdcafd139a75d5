package nets

import (
	"fmt"
	"testing"
)

// closedForm counts parameters and multiply-adds from torchvision's architecture written out by hand
// (an oracle independent of the graph): convolutions k·k·in·out weights and Ho·Wo·k·k·in·out
// multiply-adds, BN 2·C, the classifier C·K + K, the channel gate's MLP 2·C·h + h + C with two
// descriptors, the spatial gate's 7×7×2 kernel and BN.
func closedForm(cfg Config, size int64) (params, macs int64) {
	a := depthTable[cfg.Depth]
	w := func(c int) int64 { return int64(cfg.width(c)) }
	out := func(in, k, s, p int64) int64 { return (in+2*p-k)/s + 1 }
	hw := size
	conv := func(k, in, o, stride, pad int64) {
		hw = out(hw, k, stride, pad)
		params += k * k * in * o
		macs += hw * hw * k * k * in * o
	}
	bn := func(c int64) { params += 2 * c }
	gate := func(c int64, stage int) {
		if !cfg.hasGate(stage) {
			return
		}
		if cfg.Attention == "ca" || cfg.Attention == "csca" {
			h := max(1, c/int64(cfg.Reduction))
			params += c*h + h + h*c + c
			macs += 2 * (c*h + h*c)
		}
		if cfg.Attention == "sa" || cfg.Attention == "csca" {
			params += 7*7*2 + 2
			macs += hw * hw * 7 * 7 * 2
		}
	}
	conv(7, 3, w(64), 2, 3)
	bn(w(64))
	hw = out(hw, 3, 2, 1) // max pool
	in := w(64)
	for i, n := range a.blocks {
		planes := w(64 << i)
		for j := range n {
			stride := int64(1)
			if i > 0 && j == 0 {
				stride = 2
			}
			hin := hw
			var o int64
			if a.bottleneck {
				o = 4 * planes
				conv(1, in, planes, 1, 0)
				bn(planes)
				conv(3, planes, planes, stride, 1)
				bn(planes)
				conv(1, planes, o, 1, 0)
				bn(o)
			} else {
				o = planes
				conv(3, in, planes, stride, 1)
				bn(planes)
				conv(3, planes, planes, 1, 1)
				bn(planes)
			}
			gate(o, i+1)
			if stride != 1 || in != o {
				hout := hw
				hw = hin
				conv(1, in, o, stride, 0)
				bn(o)
				hw = hout
			}
			in = o
		}
	}
	k := int64(cfg.NumClasses)
	params += in*k + k
	if cfg.Attention == "fcn" {
		macs += hw * hw * in * k
	} else {
		macs += in * k
	}
	return params, macs
}

// TestStatsMatchClosedForm checks Stats against the closed-form counts for every variant, depth and
// some widths, class counts and sizes, and against torchvision's published figures: ResNet-50 has
// 25,557,032 parameters and 4.09 G multiply-adds at 224, ResNet-18 11,689,512 and 1.81 G.
func TestStatsMatchClosedForm(t *testing.T) {
	for _, tc := range []struct {
		depth, classes, size int
		width                float64
		stages               []int
	}{
		{50, 1000, 224, 1, nil}, {18, 1000, 224, 1, nil}, {34, 200, 448, 1, nil}, {101, 120, 224, 1, []int{3, 4}},
		{50, 196, 97, 0.5, []int{1}}, {18, 10, 64, 0.25, nil},
	} {
		for _, v := range Attentions() {
			cfg := DefaultConfig()
			cfg.Attention, cfg.Depth, cfg.NumClasses, cfg.WidthMultiplier, cfg.AttentionStages = v, tc.depth, tc.classes, tc.width, tc.stages
			name := fmt.Sprintf("%s-%d K=%d %d×%d width %g stages %v", v, tc.depth, tc.classes, tc.size, tc.size, tc.width, tc.stages)
			params, flops, err := Stats(cfg, tc.size)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantP, wantF := closedForm(cfg, int64(tc.size))
			if params != wantP || flops != wantF {
				t.Errorf("%s: Stats = %d parameters, %d FLOPs; closed form %d, %d", name, params, flops, wantP, wantF)
			}
		}
	}
	for _, tc := range []struct {
		depth          int
		params         int64
		gflopsLo, gfHi float64
	}{{50, 25557032, 4.08, 4.10}, {18, 11689512, 1.81, 1.82}} {
		cfg := DefaultConfig()
		cfg.Depth = tc.depth
		params, flops, err := Stats(cfg, 224)
		if err != nil {
			t.Fatal(err)
		}
		if g := float64(flops) / 1e9; params != tc.params || g < tc.gflopsLo || g > tc.gfHi {
			t.Errorf("resnet%d: %d parameters, %.3f GFLOPs; torchvision lists %d and %.2f", tc.depth, params, g, tc.params, tc.gflopsLo)
		}
	}
	if _, _, err := Stats(DefaultConfig(), 0); err == nil {
		t.Error("Stats at size 0: no error")
	}
}
