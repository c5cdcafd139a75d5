// Command tfinfo prints the TensorFlow runtime this project links against, the devices it sees, and the
// result of a small tfgo graph: a quick check that `make setup` worked.
package main

import (
	"fmt"
	"os"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	tg "github.com/galeone/tfgo"

	"github.com/finegrain/finegrain/ops"
)

func main() {
	ops.QuietLogs()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tfinfo:", err)
		os.Exit(1)
	}
}

func run() error {
	rt, err := ops.Probe()
	if err != nil {
		return err
	}
	fmt.Println("TensorFlow", rt.Version)
	for _, d := range rt.Devices {
		fmt.Println("device", d)
	}
	root := tg.NewRoot()
	a := tg.NewTensor(root, tg.Const(root, [2][2]float32{{1, 2}, {3, 4}}))
	y := a.MatMul(tg.Const(root, [2][1]float32{{10}, {100}}))
	if err := root.Err(); err != nil {
		return err
	}
	g, err := root.Finalize()
	if err != nil {
		return err
	}
	sess, err := ops.DefaultSessionConfig().NewSession(g)
	if err != nil {
		return err
	}
	defer sess.Close()
	out, err := sess.Run(nil, []tf.Output{y.Output}, nil)
	if err != nil {
		return err
	}
	fmt.Println("[[1 2] [3 4]] x [[10] [100]] =", out[0].Value())
	return nil
}
