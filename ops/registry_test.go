package ops_test

import (
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// TestGradientRegistry asks this TensorFlow build's C++ gradient registry (the only one reachable
// through the C API) for the gradient of every op type the project differentiates, and confirms the
// gaps the README lists. If a TensorFlow upgrade changes an entry, this test says which.
func TestGradientRegistry(t *testing.T) {
	x4 := func(s *op.Scope) tf.Output {
		return op.Const(s.SubScope("x4"), [][][][]float32{{{{1, -2}, {3, 4}}, {{5, 6}, {-7, 8}}}})
	}
	x2 := func(s *op.Scope) tf.Output { return op.Const(s.SubScope("x2"), [][]float32{{1, -2, 3}, {4, 5, -6}}) }
	vec := func(s *op.Scope, n int) tf.Output { return op.Const(s.SubScope("v"), make([]float32, n)) }
	axes := func(s *op.Scope) tf.Output { return op.Const(s.SubScope("axes"), []int32{1, 2}) }
	cases := []struct {
		op       string
		build    func(s *op.Scope, x tf.Output) tf.Output
		input    func(s *op.Scope) tf.Output
		gradient bool
	}{
		{"Conv2D", func(s *op.Scope, x tf.Output) tf.Output {
			return op.Conv2D(s, x, op.Const(s.SubScope("w"), [][][][]float32{{{{1}, {2}}}}), []int64{1, 1, 1, 1}, "VALID")
		}, x4, true},
		{"FusedBatchNormV3", func(s *op.Scope, x tf.Output) tf.Output {
			y, _, _, _, _, _ := op.FusedBatchNormV3(s, x, vec(s, 2), vec(s, 2), vec(s, 2), vec(s, 2), op.FusedBatchNormV3IsTraining(true))
			return y
		}, x4, true},
		{"FusedBatchNorm", func(s *op.Scope, x tf.Output) tf.Output {
			y, _, _, _, _ := op.FusedBatchNorm(s, x, vec(s, 2), vec(s, 2), vec(s, 2), vec(s, 2), op.FusedBatchNormIsTraining(true))
			return y
		}, x4, false},
		{"Relu", func(s *op.Scope, x tf.Output) tf.Output { return op.Relu(s, x) }, x4, true},
		{"Sigmoid", func(s *op.Scope, x tf.Output) tf.Output { return op.Sigmoid(s, x) }, x4, true},
		{"MaxPool", func(s *op.Scope, x tf.Output) tf.Output {
			return op.MaxPool(s, x, []int64{1, 2, 2, 1}, []int64{1, 1, 1, 1}, "VALID")
		}, x4, true},
		{"Mean", func(s *op.Scope, x tf.Output) tf.Output { return op.Mean(s, x, axes(s)) }, x4, true},
		{"Max", func(s *op.Scope, x tf.Output) tf.Output { return op.Max(s, x, axes(s)) }, x4, true},
		{"Sum", func(s *op.Scope, x tf.Output) tf.Output { return op.Sum(s, x, axes(s)) }, x4, true},
		{"Pad", func(s *op.Scope, x tf.Output) tf.Output {
			return op.Pad(s, x, op.Const(s.SubScope("p"), [][]int32{{0, 0}, {1, 1}, {1, 1}, {0, 0}}))
		}, x4, true},
		{"PadV2", func(s *op.Scope, x tf.Output) tf.Output {
			return op.PadV2(s, x, op.Const(s.SubScope("p"), [][]int32{{0, 0}, {1, 1}, {1, 1}, {0, 0}}), op.Const(s.SubScope("c"), float32(-1)))
		}, x4, true},
		{"ConcatV2", func(s *op.Scope, x tf.Output) tf.Output {
			return op.ConcatV2(s, []tf.Output{x, x}, op.Const(s.SubScope("axis"), int32(3)))
		}, x4, true},
		{"Concat (V1, the binding's op.Concat)", func(s *op.Scope, x tf.Output) tf.Output {
			return op.Concat(s, op.Const(s.SubScope("axis"), int32(3)), []tf.Output{x, x})
		}, x4, false},
		{"MatMul", func(s *op.Scope, x tf.Output) tf.Output {
			return op.MatMul(s, x, op.Const(s.SubScope("w"), [][]float32{{1}, {2}, {3}}))
		}, x2, true},
		{"BiasAdd", func(s *op.Scope, x tf.Output) tf.Output { return op.BiasAdd(s, x, vec(s, 3)) }, x2, true},
		{"SoftmaxCrossEntropyWithLogits", func(s *op.Scope, x tf.Output) tf.Output {
			l, _ := op.SoftmaxCrossEntropyWithLogits(s, x, op.Const(s.SubScope("y"), [][]float32{{0, 1, 0}, {1, 0, 0}}))
			return l
		}, x2, true},
		{"SparseSoftmaxCrossEntropyWithLogits", func(s *op.Scope, x tf.Output) tf.Output {
			l, _ := op.SparseSoftmaxCrossEntropyWithLogits(s, x, op.Const(s.SubScope("y"), []int32{1, 0}))
			return l
		}, x2, false},
		{"LogSoftmax", func(s *op.Scope, x tf.Output) tf.Output { return op.LogSoftmax(s, x) }, x2, true},
		{"Softmax", func(s *op.Scope, x tf.Output) tf.Output { return op.Softmax(s, x) }, x2, true},
		{"Mul (broadcast)", func(s *op.Scope, x tf.Output) tf.Output { return op.Mul(s, x, vec(s, 3)) }, x2, true},
		{"AddV2 (broadcast)", func(s *op.Scope, x tf.Output) tf.Output { return op.AddV2(s, x, vec(s, 3)) }, x2, true},
		{"Sub", func(s *op.Scope, x tf.Output) tf.Output { return op.Sub(s, x, vec(s, 3)) }, x2, true},
		{"SquaredDifference", func(s *op.Scope, x tf.Output) tf.Output { return op.SquaredDifference(s, x, vec(s, 3)) }, x2, true},
		{"Rsqrt", func(s *op.Scope, x tf.Output) tf.Output { return op.Rsqrt(s, op.Square(s.SubScope("sq"), x)) }, x2, true},
		{"Reshape", func(s *op.Scope, x tf.Output) tf.Output {
			return op.Reshape(s, x, op.Const(s.SubScope("shape"), []int32{-1}))
		}, x2, true},
		{"ExpandDims", func(s *op.Scope, x tf.Output) tf.Output {
			return op.ExpandDims(s, x, op.Const(s.SubScope("axis"), int32(1)))
		}, x2, true},
		{"Cast", func(s *op.Scope, x tf.Output) tf.Output {
			return op.Cast(s, op.Cast(s.SubScope("d"), x, tf.Double), tf.Float)
		}, x2, true},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			g := tf.NewGraph()
			s := op.NewScopeWithGraph(g)
			x := c.input(s)
			y := c.build(s.SubScope("f"), x)
			if err := s.Err(); err != nil {
				t.Fatalf("build: %v", err)
			}
			out, err := g.AddGradients("grad", []tf.Output{y}, []tf.Output{x}, nil)
			has := err == nil && len(out) == 1 && out[0].Op != nil
			if has != c.gradient {
				t.Errorf("%s: has C++ gradient = %v (err %v), README says %v", c.op, has, err, c.gradient)
			}
		})
	}
}
