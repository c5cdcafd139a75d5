// Command tfinfo prints the TensorFlow runtime this project links against, the devices it sees, and the
// result of a small tfgo graph: a quick check that `make setup` worked. For TensorFlow's CUDA build it
// also opens each CUDA library the way TensorFlow will, because TensorFlow itself tries only once a
// driver reports a GPU and otherwise falls back to the CPU without a word.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	tg "github.com/galeone/tfgo"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/ops"
)

func main() {
	cli.QuietLogs()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns the exit status (0 done, 1 failed, 2 bad usage).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tfinfo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tfinfo

Prints the TensorFlow version this project links against, its devices, and a small graph's result.

A quick check that the TensorFlow C library is installed and usable (make setup). For the CUDA build
(TF_VARIANT=gpu make setup) it also loads each CUDA library TensorFlow needs and the NVIDIA driver, says
where each came from, and fails if one is missing. It takes no flags.

Examples:
  go run ./cmd/tfinfo
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tfinfo: unexpected arguments %q (see -h)\n", fs.Args())
		return 2
	}
	if err := probe(stdout); err != nil {
		fmt.Fprintln(stderr, "tfinfo:", err)
		return 1
	}
	return 0
}

// probe prints the runtime, its devices and the result of a small tfgo graph.
func probe(w io.Writer) error {
	rt, err := ops.Probe()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "TensorFlow", rt.Version)
	cuda, err := probeCUDA(rt.GPU)
	if err != nil {
		return err
	}
	// A CUDA build that cannot load its libraries still runs (on the CPU): the graph below runs
	// all the same, and the failure is reported once everything has been printed.
	cudaErr := cuda.write(w)
	for _, d := range rt.Devices {
		fmt.Fprintln(w, "device", d)
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
	fmt.Fprintln(w, "[[1 2] [3 4]] x [[10] [100]] =", out[0].Value())
	return cudaErr
}
