package ops_test

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// A dense layer in an inference head: variables are created once, initialised in the graph from the
// seed, and read by every head that asks for the same path.
func ExampleDense() {
	g := ops.NewGraph(1)
	var y tf.Output
	err := ops.Catch("example", g, func() error {
		x := op.Const(g.Root().SubScope("x"), [][]float32{{1, 2}})
		s := g.Head("eval", false)
		y = ops.Dense(s.Sub("fc"), x, 3, true)
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
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := sess.Run(nil, []tf.Output{y}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].Shape(), len(g.Variables()), g.ParamCount())
	// Output: [1 3] 2 9
}
