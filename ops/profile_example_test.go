package ops_test

import (
	"context"
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// A traced run returns the values Session.Run would and the time of every node that ran. The kernel
// types (NodeStat.Kernel) depend on the TensorFlow build, which fuses and renames ops; the graph's own
// op types are in NodeStat.GraphOp.
func ExampleRunWithStats() {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 2)))
	y := op.Relu(s.SubScope("relu"), op.MatMul(s.SubScope("matmul"), x, op.Const(s.SubScope("w"), [][]float32{{1, -1}, {2, -2}})))
	g, err := s.Finalize()
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	in, err := tf.NewTensor([][]float32{{1, 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, st, err := ops.RunWithStats(context.Background(), sess, g, map[tf.Output]*tf.Tensor{x: in}, []tf.Output{y}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].Value())
	for _, n := range st.Nodes {
		if n.Name == y.Op.Name() {
			fmt.Println(n.Name, n.GraphOp, n.Wall > 0)
		}
	}
	fmt.Println(st.Span > 0, st.Sum() > 0)
	// Output:
	// [[3 0]]
	// relu/Relu Relu true
	// true true
}
