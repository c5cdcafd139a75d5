// Command bench measures the project against its TensorFlow peers on this machine and writes
// BENCHMARKS.md and bench/results.json: training throughput of the Go graph against Keras's ResNet50,
// each attention variant's overhead, SavedModel inference from Go against Python, the input pipeline
// against tf.data, and the training step's achieved GFLOP/s against a MatMul peak, all in one run on
// one TensorFlow build.
//
// Usage:
//
//	go run ./cmd/bench [-mode quick|full] [-out bench/results.json] [-md BENCHMARKS.md]
//
// make bench-quick and make bench run it through scripts/bench.sh. Every measurement runs in a fresh
// process, one at a time: the Go ones in this binary's -worker mode, the peers with the project's
// .venv python (bench/keras_train.py, bench/infer_savedmodel.py, pipeline/bench_tfdata.py).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/finegrain/finegrain/internal/bench"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
)

func main() {
	ops.QuietLogs()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError struct{ error }

func run() error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	mode := fs.String("mode", bench.Quick, "quick (a few minutes, small sizes) or full (224×224, every variant and knob)")
	out := fs.String("out", "bench/results.json", "results as JSON")
	md := fs.String("md", "BENCHMARKS.md", "the report")
	fullOut := fs.String("full-out", "bench/results-full.json", "full mode also writes its results here; quick mode summarises the full results found here in its report (empty: neither)")
	python := fs.String("python", "", "python with TensorFlow for the peers (default: <repo>/.venv/bin/python); \"none\" skips them")
	work := fs.String("work", "", "scratch directory for the exported model and the images (default: <repo>/bench/out)")
	since := fs.Int64("since", 0, "Unix time the run's time budget counts from (default: now); scripts/bench.sh passes its start, so that the build counts")
	worker := fs.String("worker", "", "internal: run one measurement of this kind and print it as JSON")
	spec := fs.String("spec", "", "internal: the -worker measurement as JSON")
	lockstep := fs.Bool("lockstep", false, "internal: the -worker's timed rounds wait for their turns on standard input")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: bench [-mode quick|full] [-out FILE.json] [-md FILE.md] [-python PATH|none] [flags]

Measures this project against TensorFlow's Python peers on this machine and writes BENCHMARKS.md.

Training throughput against Keras's ResNet50, each attention variant's overhead, SavedModel inference
from Go against Python, the input pipeline against tf.data and the training step's GFLOP/s against a
MatMul peak, each in a fresh process, one at a time. make bench-quick and make bench run it through
scripts/bench.sh; the flags marked internal are for the worker processes it starts.

Examples:
  go run ./cmd/bench -mode quick
  go run ./cmd/bench -mode full
  go run ./cmd/bench -mode quick -python none -md /tmp/BENCHMARKS.md

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed: asking for it is not an error
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *worker != "" {
		return runWorker(ctx, *worker, *spec, *lockstep)
	}
	plan, err := bench.PlanFor(*mode, runtime.NumCPU())
	if err != nil {
		return usageError{fmt.Errorf("-mode: %w", err)}
	}
	root, err := pyref.RepoRoot()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	py := *python
	switch py {
	case "":
		py = filepath.Join(root, ".venv", "bin", "python")
		if _, err := os.Stat(py); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s missing: the Python peers are skipped (make pyenv)\n", py)
			py = ""
		}
	case "none":
		py = ""
	}
	if *work == "" {
		*work = filepath.Join(root, "bench", "out")
	}
	start := time.Now()
	if *since > 0 {
		start = time.Unix(*since, 0)
	}
	r := &bench.Runner{
		Start:   start,
		Plan:    plan,
		Self:    self,
		Python:  py,
		Root:    root,
		Work:    *work,
		Command: commandLine(*mode, *out, *md),
		Log:     os.Stderr,
	}
	res, runErr := r.Run(ctx)
	if res == nil {
		return runErr
	}
	js, err := res.JSON()
	if err != nil {
		return err
	}
	if err := bench.WriteFile(*out, js); err != nil {
		return err
	}
	switch {
	case *fullOut == "":
	case *mode == bench.Full:
		if err := bench.WriteFile(*fullOut, js); err != nil {
			return err
		}
	default:
		if full, err := bench.ReadResults(*fullOut); err == nil {
			res.LastFull = full
		} else if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "bench: the last full run is left out of the report: %v\n", err)
		}
	}
	if err := bench.WriteFile(*md, []byte(res.Markdown())); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s in %.0fs\n", *md, *out, res.DurationSeconds)
	return runErr
}

// commandLine is how the report says the run can be repeated: the make target of the mode, or the
// command line when the run writes elsewhere than make's files.
func commandLine(mode, out, md string) string {
	if out == "bench/results.json" && md == "BENCHMARKS.md" {
		return map[string]string{bench.Quick: "make bench-quick", bench.Full: "make bench"}[mode]
	}
	return "go run ./cmd/bench " + strings.Join(os.Args[1:], " ")
}
