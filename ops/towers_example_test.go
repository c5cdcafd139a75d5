package ops_test

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// Two towers share the weight w of the loss mean(w·x)² ; each sees half of the batch and the
// gradients are averaged. The devices are left to TensorFlow ("") so the example runs anywhere; with
// SessionConfig.CPUDevices 2 they could be /device:CPU:0 and /device:CPU:1.
func ExampleGraph_BuildTowers() {
	g := ops.NewGraph(1)
	x := op.Const(g.Root().SubScope("x"), []float32{1, 2, 3, 4})
	towers, err := g.BuildTowers("train", []string{"", ""}, "", []tf.Output{x}, func(s *ops.Scope, in []tf.Output) (tf.Output, []tf.Output, error) {
		w := s.Variable("w", nil, ops.Constant(0.5))
		y := op.Mul(s.Op(), w.Value, in[0])
		loss := op.Mean(s.Op(), op.Square(s.Op(), y), op.Const(s.Op(), int32(0)))
		return loss, nil, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := tf.NewSession(g.TF(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := sess.Run(nil, []tf.Output{towers.Towers[0].Grads[0], towers.Towers[1].Grads[0], towers.Grads[0]}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// d/dw mean((w·x)²) = 2w·mean(x²): tower 0 has x = 1, 2; tower 1 has x = 3, 4.
	fmt.Println(out[0].Value(), out[1].Value(), out[2].Value())
	// Output: 2.5 12.5 7.5
}
