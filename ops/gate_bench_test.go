package ops_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// baselineGate is the gate of kind as ops built it before the gates were reformulated for speed (git
// 9d2a47c): two MLP passes, Mean, Max and ConcatV2 over channels, x·(1+σ) with a broadcast add. It
// creates the same variables, so built under the same scope path as ops' gate it shares their values:
// the benchmark times both on the same graph and TestGateFormulationsAgree compares their values.
func baselineGate(kind string) ops.Gate {
	channel := func(s *ops.Scope, x tf.Output, reduction int, init float64) tf.Output {
		c := int(x.Shape().Size(3))
		hidden := max(1, c/max(1, reduction))
		mlp := func(d tf.Output) tf.Output {
			h := ops.ReLU(s, ops.Dense(s.Sub("fc1"), d, hidden, true))
			fc2 := s.Sub("fc2")
			w := fc2.Variable("kernel", []int64{int64(hidden), int64(c)}, ops.Zeros())
			b := fc2.Variable("bias", []int64{int64(c)}, ops.Constant(init/2))
			return op.BiasAdd(s.Op(), op.MatMul(s.Op(), h, w.Value), b.Value)
		}
		z := op.AddV2(s.Op(), mlp(op.Mean(s.Op(), x, op.Const(s.Op(), []int32{1, 2}))), mlp(ops.GlobalMaxPool(s, x)))
		return op.Reshape(s.Op(), z, op.Const(s.Op(), []int32{-1, 1, 1, int32(c)}))
	}
	spatial := func(s *ops.Scope, x tf.Output, kernel int, bn ops.BatchNormConfig, init float64) tf.Output {
		axis := op.Const(s.Op(), int32(3))
		pooled := op.ConcatV2(s.Op(), []tf.Output{
			op.Max(s.Op(), x, axis, op.MaxKeepDims(true)),
			op.Mean(s.Op(), x, axis, op.MeanKeepDims(true)),
		}, op.Const(s.Op(), int32(3)))
		z := ops.Conv(s.Sub("conv"), pooled, ops.ConvConfig{Out: 1, Kernel: kernel, Pad: (kernel - 1) / 2})
		bs := s.Sub("bn")
		bs.Variable("beta", []int64{1}, ops.Constant(init))
		bn.GammaInit = 0
		return ops.BatchNorm(bs, z, bn)
	}
	initLogit := func(cfg ops.GateConfig) float64 {
		if cfg.Form == "residual" {
			return -cfg.InitLogit
		}
		return cfg.InitLogit
	}
	apply := func(s *ops.Scope, x, z tf.Output, form string) tf.Output {
		m := op.Sigmoid(s.Op(), z)
		if form == "residual" {
			m = op.AddV2(s.Op(), m, s.Const(1))
		}
		return op.Mul(s.Op(), x, m)
	}
	ca := func(s *ops.Scope, x tf.Output, cfg ops.GateConfig) tf.Output {
		return apply(s, x, channel(s, x, cfg.Reduction, initLogit(cfg)), cfg.Form)
	}
	sa := func(s *ops.Scope, x tf.Output, cfg ops.GateConfig) tf.Output {
		return apply(s, x, spatial(s, x, cfg.Kernel, cfg.BatchNorm, initLogit(cfg)), cfg.Form)
	}
	switch kind {
	case "ca":
		return ca
	case "sa":
		return sa
	}
	return func(s *ops.Scope, x tf.Output, cfg ops.GateConfig) tf.Output {
		c, sp := s.Sub("ca"), s.Sub("sa")
		if cfg.Fusion == "sequential" {
			return sa(sp, ca(c, x, cfg), cfg)
		}
		zc := channel(c, x, cfg.Reduction, initLogit(cfg))
		zs := spatial(sp, x, cfg.Kernel, cfg.BatchNorm, 0)
		return apply(s, x, op.AddV2(s.Op(), zc, zs), cfg.Form)
	}
}

// gateBench is one graph with three formulations of y = f(x) on a fixed random x: the identity, ops'
// gate and baselineGate, each as a training step (forward, loss Σ y·r, the gradients with respect to x and
// the gate's variables, the BN updates) and as an inference pass (Σ y·r in an inference head).
type gateBench struct {
	sess  *tf.Session
	train [3]tf.Output // a scalar that reads every gradient
	upd   [3][]*tf.Operation
	infer [3]tf.Output
}

var gateFormulations = [3]string{"identity", "gate", "baseline"}

func newGateBench(tb testing.TB, kind string, cfg ops.GateConfig, shape []int64) *gateBench {
	tb.Helper()
	gate, err := ops.NewGate(kind)
	if err != nil {
		tb.Fatal(err)
	}
	gates := [3]ops.Gate{func(_ *ops.Scope, x tf.Output, _ ops.GateConfig) tf.Output { return x }, gate, baselineGate(kind)}
	g := ops.NewGraph(7)
	gb := &gateBench{}
	err = ops.Catch("gate benchmark", g, func() error {
		root := g.Root()
		// Variables rather than feeds, so that no step copies the input.
		x := g.Variable("bench/x", shape, ops.Normal(1), ops.NotTrainable()).Value
		r := g.Variable("bench/r", shape, ops.Normal(1), ops.NotTrainable()).Value
		axes := op.Const(root.SubScope("axes"), []int32{0, 1, 2, 3})
		weigh := func(s *op.Scope, y tf.Output) tf.Output { return op.Sum(s, op.Mul(s, y, r), axes) }
		for i, f := range gates {
			name := gateFormulations[i]
			th := g.Head(name+"_train", true)
			loss := weigh(root.SubScope(name+"_loss"), f(th.Sub("g"), x, cfg))
			wrt := []tf.Output{x}
			for _, v := range g.Trainable() { // none for the identity: x and r are not trainable
				wrt = append(wrt, v.Value)
			}
			sums := []tf.Output{loss} // else the identity's step would not read x at all
			for _, d := range op.Gradients(root.SubScope(name+"_grad"), []tf.Output{loss}, wrt) {
				s := root.SubScope(name + "_read")
				sums = append(sums, op.Sum(s, d, op.Range(s, op.Const(s.SubScope("zero"), int32(0)), op.Rank(s, d), op.Const(s.SubScope("one"), int32(1)))))
			}
			gb.train[i] = op.AddN(root.SubScope(name+"_read"), sums)
			gb.upd[i] = th.Updates()
			gb.infer[i] = weigh(root.SubScope(name+"_infer"), f(g.Head(name+"_eval", false).Sub("g"), x, cfg))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	gb.sess = newSession(tb, g)
	return gb
}

// run times one training step (train) or inference pass of formulation i.
func (gb *gateBench) run(tb testing.TB, i int, train bool) time.Duration {
	fetch, targets := gb.infer[i], []*tf.Operation(nil)
	if train {
		fetch, targets = gb.train[i], gb.upd[i]
	}
	start := time.Now()
	if _, err := gb.sess.Run(nil, []tf.Output{fetch}, targets); err != nil {
		tb.Fatalf("%s: %v", gateFormulations[i], err)
	}
	return time.Since(start)
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	return float64(s[n/2]+s[(n-1)/2]) / 2 / float64(time.Millisecond)
}

// BenchmarkGate times each gate on the residual-branch shapes of ResNet-50's four stages at 224 px,
// batch 8, against the identity and against the baseline formulation, in one process and alternating
// (identity, gate, baseline, rotating the order every iteration), because the machine is shared and its
// speed drifts. It reports medians in ms: the identity's step, and for the gate and the baseline their
// overhead over the identity in the same iteration, for the training step and for inference:
//
//	go test -run XXX -bench Gate -benchtime 20x ./ops/
func BenchmarkGate(b *testing.B) {
	shapes := []struct {
		name  string
		shape []int64
	}{
		{"stage1", []int64{8, 56, 56, 256}},
		{"stage2", []int64{8, 28, 28, 512}},
		{"stage3", []int64{8, 14, 14, 1024}},
		{"stage4", []int64{8, 7, 7, 2048}},
	}
	for _, kind := range []string{"ca", "sa", "csca"} {
		for _, form := range []string{"plain", "residual"} {
			for _, sh := range shapes {
				b.Run(fmt.Sprintf("%s/%s/%s", kind, form, sh.name), func(b *testing.B) {
					cfg := ops.DefaultGateConfig()
					cfg.Form = form
					gb := newGateBench(b, kind, cfg, sh.shape)
					for i := range 3 { // first runs: graph optimisation and allocation
						gb.run(b, i, true)
						gb.run(b, i, false)
					}
					var t [2][3][]time.Duration // [train, infer][formulation]
					var over [2][2][]time.Duration
					b.ResetTimer()
					for n := range b.N {
						for m, train := range []bool{true, false} {
							var d [3]time.Duration
							for k := range 3 {
								i := (n + k) % 3
								d[i] = gb.run(b, i, train)
								t[m][i] = append(t[m][i], d[i])
							}
							over[m][0] = append(over[m][0], d[1]-d[0])
							over[m][1] = append(over[m][1], d[2]-d[0])
						}
					}
					b.StopTimer()
					for m, mode := range []string{"train", "infer"} {
						b.ReportMetric(median(t[m][0]), mode+"-identity-ms")
						b.ReportMetric(median(over[m][0]), mode+"-gate-Δms")
						b.ReportMetric(median(over[m][1]), mode+"-baseline-Δms")
					}
				})
			}
		}
	}
}
