package train

import (
	"math"
	"slices"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// refOptimizer is torch.optim's update rule written out (SGD with momentum, dampening 0, optional
// Nesterov and L2 weight decay; AdamW with TensorFlow's placement of ε), on float64 parameters.
type refOptimizer struct {
	cfg   TrainConfig
	buf   map[string][]float64
	m, v  map[string][]float64
	steps int
}

func (r *refOptimizer) step(name string, w, g []float64, lr float64) {
	c := r.cfg
	switch c.Optimizer {
	case "sgd":
		if r.buf[name] == nil {
			r.buf[name] = make([]float64, len(w))
		}
		b := r.buf[name]
		for i := range w {
			gi := g[i] + c.WeightDecay*w[i]
			b[i] = c.Momentum*b[i] + gi
			d := b[i]
			if c.Nesterov {
				d = gi + c.Momentum*b[i]
			}
			w[i] -= lr * d
		}
	case "adamw":
		if r.m[name] == nil {
			r.m[name], r.v[name] = make([]float64, len(w)), make([]float64, len(w))
		}
		m, v := r.m[name], r.v[name]
		t := float64(r.steps)
		lrT := lr * math.Sqrt(1-math.Pow(c.Beta2, t)) / (1 - math.Pow(c.Beta1, t))
		for i := range w {
			w[i] -= lr * c.WeightDecay * w[i]
			m[i] = c.Beta1*m[i] + (1-c.Beta1)*g[i]
			v[i] = c.Beta2*v[i] + (1-c.Beta2)*g[i]*g[i]
			w[i] -= lrT * m[i] / (math.Sqrt(v[i]) + c.Epsilon)
		}
	}
}

// TestOptimizerMatchesReference runs the graph optimiser on loss = Σ_j ½·c_j·Σ(w_j − t_j)² for two
// variables (one in the backbone group) and compares every step with refOptimizer, for each optimiser
// setting, with and without gradient clipping.
func TestOptimizerMatchesReference(t *testing.T) {
	base := Default().Train
	tests := []struct {
		name string
		mod  func(*TrainConfig)
	}{
		{"sgd", func(c *TrainConfig) { c.Optimizer = "sgd" }},
		{"sgd nesterov", func(c *TrainConfig) { c.Optimizer = "sgd"; c.Nesterov = true }},
		{"sgd no momentum", func(c *TrainConfig) { c.Optimizer = "sgd"; c.Momentum = 0; c.WeightDecay = 0 }},
		{"sgd clipped", func(c *TrainConfig) { c.Optimizer = "sgd"; c.ClipGradNorm = 0.5 }},
		{"adamw", func(c *TrainConfig) { c.Optimizer = "adamw"; c.WeightDecay = 0.05 }},
		{"adamw clipped", func(c *TrainConfig) { c.Optimizer = "adamw"; c.WeightDecay = 0.01; c.ClipGradNorm = 0.3 }},
	}
	init := map[string][]float64{"backbone/w": {0.5, -1, 2}, "head/w": {1, 0.25}}
	target := map[string][]float64{"backbone/w": {0, 1, -1}, "head/w": {-2, 3}}
	curv := map[string]float64{"backbone/w": 1, "head/w": 3}
	names := []string{"backbone/w", "head/w"}
	lrs := []float64{0.1, 0.05, 0.02, 0.08}
	const mult = 0.1
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			g := ops.NewGraph(1)
			var opt *Optimizer
			var vars []*ops.Variable
			err := ops.Catch("optimizer test", g, func() error {
				root := g.Root()
				var terms []tf.Output
				for _, n := range names {
					v := g.Variable(n, []int64{int64(len(init[n]))}, ops.Zeros())
					vars = append(vars, v)
					d := op.Sub(root.SubScope("d"), v.Value, op.Const(root.SubScope("t"), f32s(target[n])))
					terms = append(terms, op.Mul(root.SubScope("c"), op.Const(root.SubScope("k"), float32(curv[n]/2)),
						op.Sum(root.SubScope("s"), op.Square(root.SubScope("sq"), d), op.Const(root.SubScope("ax"), []int32{0}))))
				}
				loss := op.AddN(root.SubScope("loss"), terms)
				values := []tf.Output{vars[0].Value, vars[1].Value}
				grads := op.Gradients(root.SubScope("grad"), []tf.Output{loss}, values)
				var err error
				opt, err = newOptimizer(g, cfg, vars, grads, func(n string) bool { return n == "backbone/w" }, tf.Output{}, nil)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
				t.Fatal(err)
			}
			ref := &refOptimizer{cfg: cfg, buf: map[string][]float64{}, m: map[string][]float64{}, v: map[string][]float64{}}
			w := map[string][]float64{}
			for i, n := range names {
				w[n] = slices.Clone(init[n])
				feed, _ := tf.NewTensor(f32s(init[n]))
				if _, err := sess.Run(map[tf.Output]*tf.Tensor{vars[i].Feed: feed}, nil, []*tf.Operation{vars[i].AssignFeed}); err != nil {
					t.Fatal(err)
				}
			}
			for s, lr := range lrs {
				feeds := map[tf.Output]*tf.Tensor{}
				if err := opt.feeds(feeds, lr, mult, int64(s+1), cfg.Beta1, cfg.Beta2); err != nil {
					t.Fatal(err)
				}
				stepOut, err := sess.Run(feeds, []tf.Output{opt.GradNorm}, []*tf.Operation{opt.Step})
				if err != nil {
					t.Fatal(err)
				}
				// reference: gradients, global-norm clipping, then the update per group
				grads := map[string][]float64{}
				norm := 0.0
				for _, n := range names {
					for i := range w[n] {
						gi := curv[n] * (w[n][i] - target[n][i])
						grads[n] = append(grads[n], gi)
						norm += gi * gi
					}
				}
				norm = math.Sqrt(norm)
				if got := float64(stepOut[0].Value().(float32)); math.Abs(got-norm) > 1e-5*math.Max(1, norm) {
					t.Fatalf("step %d: gradient norm %.7g, reference %.7g", s+1, got, norm)
				}
				ref.steps++
				for _, n := range names {
					if cfg.ClipGradNorm > 0 {
						f := cfg.ClipGradNorm / math.Max(norm, cfg.ClipGradNorm)
						for i := range grads[n] {
							grads[n][i] *= f
						}
					}
					rate := lr
					if n == "backbone/w" {
						rate *= mult
					}
					ref.step(n, w[n], grads[n], rate)
				}
				for i, n := range names {
					out, err := sess.Run(nil, []tf.Output{vars[i].Value}, nil)
					if err != nil {
						t.Fatal(err)
					}
					got := out[0].Value().([]float32)
					for j := range got {
						if d := math.Abs(float64(got[j]) - w[n][j]); d > 1e-5*math.Max(1, math.Abs(w[n][j])) {
							t.Fatalf("step %d %s[%d] = %.7g, reference %.7g", s+1, n, j, got[j], w[n][j])
						}
					}
				}
			}
		})
	}
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func TestSchedule(t *testing.T) {
	cfg := Default().Train
	cfg.LR, cfg.Epochs, cfg.WarmupEpochs, cfg.MinLRFactor = 0.1, 10, 2, 0.01
	tests := []struct {
		kind string
		step int64
		want float64
	}{
		{"cosine", 0, 0.1 * 1 / 20},       // warm-up: (step+1)/warm-up steps
		{"cosine", 9, 0.1 * 10 / 20},      // halfway through warm-up
		{"cosine", 20, 0.1},               // warm-up done: peak
		{"cosine", 60, 0.001 + 0.099*0.5}, // halfway through the cosine
		{"cosine", 100, 0.001},            // the end: the floor
		{"step", 20, 0.1},
		{"step", 29, 0.1},
		{"step", 30, 0.01}, // milestone 3.0 epochs (cfg.Milestones below)
		{"step", 70, 0.001},
		{"constant", 50, 0.1},
	}
	for _, tc := range tests {
		c := cfg
		c.Schedule = tc.kind
		c.Milestones = []float64{3, 7}
		got := NewSchedule(c, 10).At(tc.step)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s at step %d = %.6g, want %.6g", tc.kind, tc.step, got, tc.want)
		}
	}
}
