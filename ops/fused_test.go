package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// TestFusedMatchesComposed ties the float32 fast paths the models use (FusedBatchNormV3 and
// SoftmaxCrossEntropyWithLogits, whose C++ gradients only exist for float32) to the composed forms that
// TestGradientsMatchFiniteDifferences checks in float64: same loss, same gradients, same moving-average
// updates, in float32.
func TestFusedMatchesComposed(t *testing.T) {
	run := func(composed bool) (loss float64, grads [][]float64, moving [][]float64) {
		rng := rand.New(rand.NewPCG(3, 4))
		g := ops.NewGraph(11)
		var lossOut tf.Output
		var gradOuts []tf.Output
		var updates []*tf.Operation
		err := ops.Catch("net", g, func() error {
			root := g.Root()
			x := op.Cast(root.SubScope("x32"), op.Const(root.SubScope("x"), randomInput(rng, 4, 8, 8, 3)), tf.Float)
			labels := op.Const(root.SubScope("labels"), []int32{2, 0, 1, 1})
			s := g.Head("train", true)
			bn := ops.DefaultBatchNorm()
			bn.Composed = composed
			h := ops.Conv2D(s.Sub("conv"), x, 5, 3, 1, 1, false)
			h = ops.BatchNorm(s.Sub("bn"), h, bn)
			h = ops.GlobalAvgPool(s, ops.ReLU(s, h))
			logits := ops.Dense(s.Sub("fc"), h, 3, true)
			lossOut = ops.SoftmaxCrossEntropyFor(s, logits, labels, 3, 0.1, composed)
			var vals []tf.Output
			for _, v := range g.Trainable() {
				vals = append(vals, v.Value)
			}
			gradOuts = op.Gradients(root, []tf.Output{lossOut}, vals)
			updates = s.Updates()
			return nil
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
		out, err := sess.Run(nil, append([]tf.Output{lossOut}, gradOuts...), updates)
		if err != nil {
			t.Fatal(err)
		}
		loss = float64(out[0].Value().(float32))
		for _, o := range out[1:] {
			grads = append(grads, flatten(o.Value()))
		}
		for _, name := range []string{"bn/moving_mean", "bn/moving_variance"} {
			moving = append(moving, flat(t, sess, g.Lookup(name).Value))
		}
		return loss, grads, moving
	}
	fl, fg, fm := run(false)
	cl, cg, cm := run(true)
	if d := math.Abs(fl - cl); d > 1e-5*math.Abs(cl) {
		t.Errorf("loss: fused %.8g, composed %.8g", fl, cl)
	}
	check := func(what string, a, b [][]float64, tol float64) {
		for i := range a {
			scale := 0.0
			for _, v := range b[i] {
				scale = math.Max(scale, math.Abs(v))
			}
			for j := range a[i] {
				if d := math.Abs(a[i][j] - b[i][j]); d > tol*scale {
					t.Errorf("%s %d[%d]: fused %.8g, composed %.8g (|Δ| %.2e > %.0e of scale %.3g)", what, i, j, a[i][j], b[i][j], d, tol, scale)
					return
				}
			}
		}
	}
	check("gradient", fg, cg, 1e-4)
	check("moving statistic", fm, cm, 1e-5)
}
