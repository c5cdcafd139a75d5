// Command serveload measures cmd/serve under load on loopback against a Python baseline server over
// the same SavedModel (scripts/serve_baseline.py: http.server and TensorFlow's Python API), and
// writes the figures into bench/results.json (serve_* keys, merged) and BENCHMARKS.md (between
// <!-- serve:begin --> and <!-- serve:end -->):
//
//	go run ./cmd/serveload -serve bench/out/serve [-model DIR] [-clients 8] [-requests 400] [-pairs 3]
//
// scripts/bench-serve.sh builds cmd/serve and runs this (make bench). Three servers run side by
// side, started once and warmed up: Go without dynamic batching, Go with it, Python. Each round loads
// them one at a time, Go unbatched, Python, Go batched, Python, so that every Go run has a Python run
// next to it under the same machine load; the ratios are per pair, their median is reported. A run
// is -clients concurrent clients, each sending one serving_default image (TensorFlow Serving's row
// format, JSON numbers) per request and waiting for the answer, until -requests requests are answered
// or -run_timeout passes. Then the Go server's resident memory is sampled across -memory_requests
// more requests. Every answer is checked (HTTP 200, one prediction of the model's classes); a run
// with failures fails the command.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/nets"
)

func main() {
	cli.QuietLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	serve, python, baseline, model string
	variant                        string
	depth, size, classes           int
	width                          float64
	clients, requests, pairs       int
	memRequests                    int
	runTimeout, timeout            time.Duration
	maxBatch, batchMicros          int
	intra, inter                   int
	out, md                        string
	seed                           uint64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fl := flag.NewFlagSet("serveload", flag.ContinueOnError)
	fl.SetOutput(stderr)
	o := &options{}
	fl.StringVar(&o.serve, "serve", "bench/out/serve", "the cmd/serve `binary` to measure")
	fl.StringVar(&o.python, "python", ".venv/bin/python", "the `python` with TensorFlow that runs the baseline")
	fl.StringVar(&o.baseline, "baseline", "scripts/serve_baseline.py", "the Python baseline server `script`")
	fl.StringVar(&o.model, "model", "", "SavedModel `dir` to serve (\"\": export a model with random weights of -variant, -depth, -width, -size, -classes into a temporary folder)")
	fl.StringVar(&o.variant, "variant", "sa", "attention variant of the exported model")
	fl.IntVar(&o.depth, "depth", 18, "ResNet depth of the exported model")
	fl.Float64Var(&o.width, "width", 0.5, "width multiplier of the exported model")
	fl.IntVar(&o.size, "size", 64, "input side of the exported model")
	fl.IntVar(&o.classes, "classes", 10, "classes of the exported model")
	fl.IntVar(&o.clients, "clients", 8, "concurrent clients")
	fl.IntVar(&o.requests, "requests", 600, "requests per run")
	fl.IntVar(&o.pairs, "pairs", 3, "rounds of Go/Python pairs")
	fl.IntVar(&o.memRequests, "memory_requests", 10000, "requests of the Go server's memory run (0: none)")
	fl.DurationVar(&o.runTimeout, "run_timeout", 90*time.Second, "longest run; a run stops there with the requests answered so far")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Minute, "longest time for everything")
	fl.IntVar(&o.maxBatch, "max_batch_size", 8, "the batched Go server's -max_batch_size")
	fl.IntVar(&o.batchMicros, "batch_timeout_micros", 2000, "the batched Go server's -batch_timeout_micros")
	fl.IntVar(&o.intra, "intra", runtime.NumCPU(), "TensorFlow intra-op threads of every server")
	fl.IntVar(&o.inter, "inter", 2, "TensorFlow inter-op threads of every server")
	fl.StringVar(&o.out, "out", "bench/results.json", "JSON `file` to merge the serve_* keys into (\"\": none)")
	fl.StringVar(&o.md, "md", "BENCHMARKS.md", "Markdown `file` whose serve section is replaced (\"\": none)")
	fl.Uint64Var(&o.seed, "seed", 1, "seed of the request images")
	fl.Usage = func() {
		fmt.Fprint(stderr, `Usage: serveload -serve BINARY [-model DIR] [-clients N] [-requests N] [-pairs N] [flags]

Measures cmd/serve under load on loopback against a Python server over the same SavedModel.

Rounds alternate Go without batching, Python, Go with batching, Python; the per-pair ratios' medians,
p50/p95/p99 latency and images/s go to bench/results.json (serve_* keys) and BENCHMARKS.md's serve
section. scripts/bench-serve.sh builds cmd/serve and runs this (make bench).

Examples:
  go run ./cmd/serveload -serve bench/out/serve
  go run ./cmd/serveload -serve bench/out/serve -model models/birds/1 -clients 16 -out "" -md ""

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fl.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	case o.clients <= 0 || o.requests <= 0 || o.pairs <= 0 || o.memRequests < 0:
		return nil, errors.New("-clients, -requests and -pairs must be positive, -memory_requests not negative")
	case o.runTimeout <= 0 || o.timeout <= 0:
		return nil, errors.New("-run_timeout and -timeout must be positive")
	case o.maxBatch <= 0 || o.batchMicros <= 0 || o.intra <= 0 || o.inter <= 0:
		return nil, errors.New("-max_batch_size, -batch_timeout_micros, -intra and -inter must be positive")
	case o.model == "" && (o.size <= 0 || o.classes <= 1 || o.width <= 0):
		return nil, errors.New("-size, -width must be positive and -classes at least 2")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "serveload: %v (see -h)\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := measure(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "serveload: %v\n", err)
		return 1
	}
	if err := writeResults(o, res); err != nil {
		fmt.Fprintf(stderr, "serveload: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, res.summary())
	return 0
}

// exportModel writes a SavedModel with random weights to a new folder under tmp.
func exportModel(ctx context.Context, o *options, tmp string) (string, error) {
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses = nets.Attention(o.variant), o.depth, o.width, o.classes
	if err := cfg.Validate(); err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	dir := filepath.Join(tmp, "model")
	spec := exported.Spec{Net: cfg, Preprocess: exported.Preprocess{ImageSize: o.size, ResizeSize: o.size * 8 / 7}}
	if err := exported.Export(ctx, dir, spec, nil); err != nil {
		return "", err
	}
	return dir, nil
}

// requestBodies are a few serving_default requests of one random image each, in the row format.
func requestBodies(seed uint64, size, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([][]byte, n)
	for k := range out {
		var b bytes.Buffer
		b.WriteString(`{"signature_name": "serving_default", "output_filter": ["probabilities"], "instances": [[`)
		for y := range size {
			if y > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for x := range size {
				if x > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "[%d,%d,%d]", rng.IntN(256), rng.IntN(256), rng.IntN(256))
			}
			b.WriteByte(']')
		}
		b.WriteString("]]}")
		out[k] = b.Bytes()
	}
	return out
}

// probabilities parses a row-format answer of one image with a single output.
func probabilities(body []byte, classes int) ([]float64, error) {
	var got struct {
		Predictions [][]float64 `json:"predictions"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %w (%.200s)", err, body)
	}
	if len(got.Predictions) != 1 || len(got.Predictions[0]) != classes {
		return nil, fmt.Errorf("answer has %d predictions, want 1 of %d classes (%.200s)", len(got.Predictions), classes, body)
	}
	return got.Predictions[0], nil
}

// errString is err's message, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
