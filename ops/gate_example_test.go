package ops_test

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// A config word picks the gate; at initialisation every gate scales its input by σ(6) (plain form).
func ExampleNewGate() {
	gate, err := ops.NewGate("csca")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := ops.NewGraph(1)
	var y tf.Output
	err = ops.Catch("example", g, func() error {
		x := op.Const(g.Root().SubScope("x"), [][][][]float32{{{{1, 2, 3, 4}}, {{5, 6, 7, 8}}}}) // [1, 2, 1, 4]
		y = gate(g.Head("eval", false).Sub("layer1/0/csca"), x, ops.DefaultGateConfig())
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range g.Variables() {
		fmt.Println(v.Name, v.Shape)
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
	fmt.Printf("%.4f\n", out[0].Value().([][][][]float32)[0][1][0])
	// Output:
	// layer1/0/csca/ca/fc1/kernel [4 1]
	// layer1/0/csca/ca/fc1/bias [1]
	// layer1/0/csca/ca/fc2/kernel [1 4]
	// layer1/0/csca/ca/fc2/bias [4]
	// layer1/0/csca/sa/conv/kernel [7 7 2 1]
	// layer1/0/csca/sa/bn/beta [1]
	// layer1/0/csca/sa/bn/gamma [1]
	// layer1/0/csca/sa/bn/moving_mean [1]
	// layer1/0/csca/sa/bn/moving_variance [1]
	// [4.9876 5.9852 6.9827 7.9802]
}
