// Command bench measures the project against its TensorFlow peers on this machine and writes
// bench/results.json and the tables of BENCHMARKS.md: training throughput of the Go graph against
// Keras's ResNet50, each attention variant's overhead, SavedModel inference from Go against Python
// (the original and the optimised export), the input pipeline against tf.data, and the training
// step's achieved GFLOP/s against a MatMul peak, all in one run on one TensorFlow build. Each Go/peer
// figure is the median of paired rounds' ratios with their min–max, a tie when that spans 1.
//
// Usage:
//
//	go run ./cmd/bench [-mode quick|full] [-out bench/results.json] [-md BENCHMARKS.md]
//	go run ./cmd/bench -profile none,csca [-profile-size 224] [-profile-batch 8] [-profile-inference]
//	go run ./cmd/bench -profile none,keras [-python PATH]
//
// -profile runs no benchmark: it traces the training step (or the inference head) of each variant with
// TensorFlow's step statistics (ops.RunWithStats) and prints the node time per op type, side by side.
// The pseudo-variant keras is Keras's ResNet50 (depth 50 only), traced by bench/keras_train.py with
// TensorFlow's profiler, so that the op types where the Go step loses time against Keras's show.
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
	"slices"
	"strings"
	"time"

	"github.com/finegrain/finegrain/internal/bench"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/internal/pyref"
)

func main() {
	cli.QuietLogs()
	if err := run(os.Args[1:]); err != nil {
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

func run(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	mode := fs.String("mode", bench.Quick, "quick (a few minutes, small sizes) or full (224×224, every variant and knob)")
	out := fs.String("out", "bench/results.json", "results as JSON")
	md := fs.String("md", "BENCHMARKS.md", "the report")
	fullOut := fs.String("full-out", "bench/results-full.json", "full mode also writes its results here, so that a quick run does not replace them (empty: not written)")
	python := fs.String("python", "", "python with TensorFlow for the peers and -profile keras (default: <repo>/.venv/bin/python); \"none\" skips them")
	work := fs.String("work", "", "scratch directory for the exported model and the images (default: <repo>/bench/out)")
	since := fs.Int64("since", 0, "Unix time the run's time budget counts from (default: now); scripts/bench.sh passes its start, so that the build counts")
	worker := fs.String("worker", "", "internal: run one measurement of this kind and print it as JSON")
	spec := fs.String("spec", "", "internal: the -worker measurement as JSON")
	lockstep := fs.Bool("lockstep", false, "internal: the -worker's timed rounds wait for their turns on standard input")
	profile := fs.String("profile", "", "instead of the benchmark, profile the training step per op type of these comma-separated attention variants and keras, Keras's ResNet50 (e.g. none,csca,keras; the first is the baseline) and print Markdown tables")
	profSize := fs.Int("profile-size", 224, "-profile image size")
	profBatch := fs.Int("profile-batch", 8, "-profile batch size")
	profDepth := fs.Int("profile-depth", 50, "-profile ResNet depth")
	profSteps := fs.Int("profile-steps", 5, "-profile traced steps per variant, after a first and a warm-up step")
	profTop := fs.Int("profile-top", 15, "-profile: how many of the longest nodes each variant lists")
	profInfer := fs.Bool("profile-inference", false, "-profile the inference head (forward pass) instead of the training step")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: bench [-mode quick|full] [-out FILE.json] [-md FILE.md] [-python PATH|none] [flags]
       bench -profile VARIANT,... [-profile-size N] [-profile-batch N] [-profile-depth N] [-profile-steps N] [-profile-inference]

Measures this project against its TensorFlow peers (Keras, Python TensorFlow, tf.data) on this machine.

Writes the results to bench/results.json (keys it does not write are kept) and its tables into BENCHMARKS.md between
<!-- bench:begin --> and <!-- bench:end -->; a full run also appends its line to the table of runs
between <!-- bench-runs:begin --> and <!-- bench-runs:end -->. The rest of the file is hand-written.

Training throughput against Keras's ResNet50, each attention variant's overhead, SavedModel inference
from Go against Python (the original and the optimised export), the input pipeline against tf.data
and the training step's GFLOP/s against a MatMul peak, each in a fresh process; full mode also records
per-op profiles of the variants' training steps and inference heads (as -profile prints them). Go and its peer run
in lockstep, their timed rounds alternating, and each headline ratio is the median of the per-round
ratios with their min–max; "tie" when that interval spans 1. make bench-quick and make bench run it through
scripts/bench.sh; the flags marked internal are for the worker processes it starts.

-profile measures nothing against a peer and writes no file: it traces the training step (or, with
-profile-inference, the inference head) of each variant with TensorFlow's step statistics and prints
Markdown tables of the node time per op type, the variants side by side with their difference to the
first, and each variant's longest nodes. The variant keras is Keras's ResNet50 (-profile-depth 50),
traced by bench/keras_train.py with TensorFlow's profiler under -python.

Examples:
  go run ./cmd/bench -mode quick
  go run ./cmd/bench -mode full
  go run ./cmd/bench -mode quick -python none -md /tmp/BENCHMARKS.md
  go run ./cmd/bench -profile none,csca -profile-size 112 -profile-batch 4
  go run ./cmd/bench -profile none,keras

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
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
	if *profile != "" {
		spec := bench.ProfileSpec{Variants: strings.Split(*profile, ","), Depth: *profDepth, ImageSize: *profSize,
			Batch: *profBatch, Classes: 200, Steps: *profSteps, Inference: *profInfer, Top: *profTop, Settings: bench.DefaultSettings()}
		if slices.Contains(spec.Variants, bench.KerasVariant) {
			root, err := pyref.RepoRoot()
			if err != nil {
				return err
			}
			if spec.Python = peerPython(*python, root); spec.Python == "" {
				return usageError{fmt.Errorf("-profile %s needs a Python with TensorFlow: -python is %q (make pyenv)", bench.KerasVariant, *python)}
			}
			spec.KerasScript = filepath.Join(root, bench.KerasScript)
		}
		return runProfile(ctx, spec)
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
	py := peerPython(*python, root)
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
	if err := mergeInto(*out, js); err != nil {
		return err
	}
	if *fullOut != "" && *mode == bench.Full {
		if err := bench.WriteFile(*fullOut, js); err != nil {
			return err
		}
	}
	if err := writeReport(*md, res); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: training Go/Keras %s; batch-1 ms Go/Python %s; batch-16 img/s Go/Python %s; optimised Go / original Python: batch-1 %s, batch-16 %s\n",
		res.TrainRatio, res.InferB1Ratio, res.InferB16Ratio, res.InferOptB1Ratio, res.InferOptB16Ratio)
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s in %.0fs\n", *md, *out, res.DurationSeconds)
	return runErr
}

// peerPython is the python of the -python flag: the repository's .venv by default (empty, with a
// note, when it is missing), none for "none".
func peerPython(flagValue, root string) string {
	switch flagValue {
	case "":
		py := filepath.Join(root, ".venv", "bin", "python")
		if _, err := os.Stat(py); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s missing: the Python peers are skipped (make pyenv)\n", py)
			return ""
		}
		return py
	case "none":
		return ""
	}
	return flagValue
}

// runProfile prints the per-op profile of spec as Markdown on standard output; nothing is written.
func runProfile(ctx context.Context, spec bench.ProfileSpec) error {
	p, err := bench.RunProfile(ctx, spec)
	if err != nil {
		return fmt.Errorf("-profile: %w", err)
	}
	fmt.Print(p.Markdown())
	return nil
}

// mergeInto writes the results to path, keeping the keys of the file that cmd/bench does not write
// (serve_* from scripts/bench-serve.sh).
func mergeInto(path string, js []byte) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("results %s: %w", path, err)
	}
	merged, err := bench.MergeJSON(old, js)
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	return bench.WriteFile(path, merged)
}

// writeReport puts the run's tables between their markers in the report at path and, for a full
// run, appends its line to the table of full runs; the hand-written text around them stays.
func writeReport(path string, res *bench.Results) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("report %s: %w", path, err)
	}
	doc, err := bench.Splice(string(old), bench.TablesBegin, bench.TablesEnd, res.Tables())
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	if res.Mode == bench.Full {
		if doc, err = bench.AppendRow(doc, bench.RunsBegin, bench.RunsEnd, bench.RunsHeader, res.RunRow()); err != nil {
			return fmt.Errorf("report %s: %w", path, err)
		}
	}
	return bench.WriteFile(path, []byte(doc))
}

// commandLine is how the report says the run can be repeated: the make target of the mode, or the
// command line when the run writes elsewhere than make's files.
func commandLine(mode, out, md string) string {
	if out == "bench/results.json" && md == "BENCHMARKS.md" {
		return map[string]string{bench.Quick: "make bench-quick", bench.Full: "make bench"}[mode]
	}
	return "go run ./cmd/bench " + strings.Join(os.Args[1:], " ")
}
