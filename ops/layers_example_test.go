package ops_test

import (
	"fmt"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// A ResNet stem written as torchvision writes it, with the settings named: Conv(7×7, stride 2, pad 3),
// BatchNorm, ReLU, MaxPool(3, stride 2, pad 1).
func ExampleConv() {
	g := ops.NewGraph(1)
	var y tf.Output
	err := ops.Catch("stem", g, func() error {
		x := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 3)))
		s := g.Head("eval", false)
		y = ops.Conv(s.Sub("conv1"), x, ops.ConvConfig{Out: 8, Kernel: 7, Stride: 2, Pad: 3})
		y = ops.ReLU(s, ops.BatchNorm(s.Sub("bn1"), y, ops.DefaultBatchNorm()))
		y = ops.MaxPool(s, y, ops.PoolConfig{Kernel: 3, Stride: 2, Pad: 1})
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), g.Variables()[0].Name, g.Variables()[0].Shape)
	// Output: [1, 8, 8, 8] conv1/kernel [7 7 3 8]
}

// Element-wise arithmetic as a tfgo chain: each method adds an op and modifies the Tensor in place, so
// a value used twice is Cloned first. A shape error in a chain panics inside tfgo; Catch returns it as
// an error.
func ExampleScope_Tensor() {
	g := ops.NewGraph(1)
	var y tf.Output
	err := ops.Catch("chain", g, func() error {
		s := g.Head("eval", false)
		x := s.Tensor(op.Const(s.Op(), []float32{1, 2}))
		twice := x.Clone().Mul(s.Const(2)) // x itself is unchanged
		y = x.Add(twice.Output).Output     // x + 2x
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	out, err := sess.Run(nil, []tf.Output{y}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].Value())

	bad := ops.NewGraph(1)
	err = ops.Catch("bad chain", bad, func() error {
		s := bad.Head("eval", false)
		s.Tensor(op.Const(s.Op(), []float32{1, 2})).Add(op.Const(s.Op(), []float32{1, 2, 3}))
		return nil
	})
	fmt.Println(err != nil, strings.HasPrefix(fmt.Sprint(err), "build bad chain: "))
	// Output:
	// [3 6]
	// true true
}
