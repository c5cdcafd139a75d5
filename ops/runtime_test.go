package ops_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	tg "github.com/galeone/tfgo"

	"github.com/finegrain/finegrain/ops"
)

func TestRuntimeVersionAndTfgoGraph(t *testing.T) {
	rt, err := ops.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rt.Version, "2.") {
		t.Fatalf("TensorFlow version %q, want 2.x", rt.Version)
	}
	if len(rt.Devices) == 0 {
		t.Fatal("no devices listed")
	}
	t.Logf("TensorFlow %s, devices %v", rt.Version, rt.Devices)

	root := tg.NewRoot()
	a := tg.NewTensor(root, tg.Const(root, [2][3]float32{{1, 2, 3}, {4, 5, 6}}))
	b := tg.Const(root, [3][1]float32{{1}, {10}, {100}})
	y := a.MatMul(b).Add(tg.Const(root, [1]float32{0.5}))
	res := tg.Exec(root, []tf.Output{y.Output}, nil, &tf.SessionOptions{})
	got := res[0].Value().([][]float32)
	want := [][]float32{{321.5}, {654.5}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("matmul = %v, want %v", got, want)
		}
	}
}

// smallNet is the gradient-check network: conv2d -> batch norm (training) -> relu -> max pool
// -> mean -> dense -> softmax cross-entropy on one-hot labels.
func smallNet(s *ops.Scope, x, labels tf.Output, bn ops.BatchNormConfig) tf.Output {
	h := ops.Conv2D(s.Sub("conv"), x, 4, 3, 2, 1, false) // no bias before BN, as in ResNet
	h = ops.BatchNorm(s.Sub("bn"), h, bn)
	h = ops.ReLU(s, h)
	h = ops.MaxPool(s, h, ops.PoolConfig{Kernel: 3, Stride: 2, Pad: 1})
	h = ops.GlobalAvgPool(s, h)
	logits := ops.Dense(s.Sub("fc"), h, 3, true)
	return ops.SoftmaxCrossEntropy(s, logits, labels, 3, 0)
}

func randomInput(rng *rand.Rand, n, h, w, c int) [][][][]float64 {
	x := make([][][][]float64, n)
	for i := range x {
		x[i] = make([][][]float64, h)
		for j := range x[i] {
			x[i][j] = make([][]float64, w)
			for k := range x[i][j] {
				x[i][j][k] = make([]float64, c)
				for l := range x[i][j][k] {
					x[i][j][k][l] = rng.NormFloat64()
				}
			}
		}
	}
	return x
}

// TestGradientsMatchFiniteDifferences differentiates smallNet with the C API's AddGradients (TensorFlow's
// C++ gradient registry) and compares every element of every weight's gradient with central finite
// differences, all in float64. Batch norm is the composed form here (FusedBatchNormV3 has no float64
// kernel); TestFusedBatchNormMatchesComposed ties the fused op to it.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := ops.NewGraphOf(tf.Double, 7)
	var loss tf.Output
	var grads []tf.Output
	var vars []*ops.Variable
	err := ops.Catch("small net", g, func() error {
		root := g.Root()
		x := op.Const(root.SubScope("x"), randomInput(rng, 3, 9, 9, 3))
		labels := op.Const(root.SubScope("labels"), []int32{0, 2, 1})
		loss = smallNet(g.Head("train", true), x, labels, ops.DefaultBatchNorm())
		vars = g.Trainable()
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		grads = op.Gradients(root, []tf.Output{loss}, values)
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
	// Move the BN scale and the biases away from their special initial values (1 and 0).
	for _, v := range vars {
		vals := flat(t, sess, v.Value)
		for i := range vals {
			vals[i] += 0.3 * rng.NormFloat64()
		}
		assign(t, sess, v, vals)
	}
	analytic, err := sess.Run(nil, grads, nil)
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func() float64 {
		out, err := sess.Run(nil, []tf.Output{loss}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().(float64)
	}
	const h = 1e-6
	for i, v := range vars {
		base := flat(t, sess, v.Value)
		a := flatten(analytic[i].Value())
		scale := 0.0
		for _, g := range a {
			scale = math.Max(scale, math.Abs(g))
		}
		worst := 0.0
		for j := range base {
			p := slices.Clone(base)
			p[j] = base[j] + h
			assign(t, sess, v, p)
			up := lossAt()
			p[j] = base[j] - h
			assign(t, sess, v, p)
			down := lossAt()
			fd := (up - down) / (2 * h)
			// Relative to the element, floored at 1e-3 of the largest gradient of this weight so that
			// elements that are almost zero do not divide by almost zero.
			rel := math.Abs(fd-a[j]) / math.Max(math.Max(math.Abs(fd), math.Abs(a[j])), math.Max(1e-3*scale, 1e-12))
			worst = math.Max(worst, rel)
		}
		assign(t, sess, v, base)
		t.Logf("%-16s %4d elements  max relative error %.2e", v.Name, len(base), worst)
		if worst > 1e-4 {
			t.Errorf("%s: max relative error %.3e between AddGradients and finite differences, want <= 1e-4", v.Name, worst)
		}
	}
}

func flat(t *testing.T, sess *tf.Session, o tf.Output) []float64 {
	t.Helper()
	out, err := sess.Run(nil, []tf.Output{o}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return flatten(out[0].Value())
}

// flatten turns a nested float slice of any rank into one []float64.
func flatten(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case float32:
		return []float64{float64(x)}
	case []float64:
		return x
	case []float32:
		out := make([]float64, len(x))
		for i, f := range x {
			out[i] = float64(f)
		}
		return out
	case [][]float64:
		var out []float64
		for _, r := range x {
			out = append(out, r...)
		}
		return out
	case [][]float32:
		var out []float64
		for _, r := range x {
			out = append(out, flatten(r)...)
		}
		return out
	case [][][][]float64:
		var out []float64
		for _, a := range x {
			for _, b := range a {
				for _, c := range b {
					out = append(out, c...)
				}
			}
		}
		return out
	case [][][][]float32:
		var out []float64
		for _, a := range x {
			for _, b := range a {
				for _, c := range b {
					out = append(out, flatten(c)...)
				}
			}
		}
		return out
	}
	panic("flatten: unsupported type")
}

// assign writes vals (flat, row-major) into v through its feed placeholder.
func assign(t *testing.T, sess *tf.Session, v *ops.Variable, vals []float64) {
	t.Helper()
	var tensor *tf.Tensor
	var err error
	if v.Feed.DataType() == tf.Double {
		tensor, err = tf.NewTensor(vals)
	} else {
		f := make([]float32, len(vals))
		for i, x := range vals {
			f[i] = float32(x)
		}
		tensor, err = tf.NewTensor(f)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := tensor.Reshape(v.Shape); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: tensor}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
		t.Fatal(err)
	}
}
