// Command variants prints the table of model variants as a markdown table: trainable parameters,
// GFLOPs of one forward pass (multiply-adds of convolutions and dense layers, torchvision's convention),
// and the median CPU time of a forward pass (inference mode) and of a forward+backward pass (training
// mode: gradients of every variable and BN updates, no optimiser step) for one batch.
//
//	go run ./cmd/variants -depth 50 -size 224 -batch 1 -iters 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "variants:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("variants", flag.ContinueOnError)
	depth := fs.Int("depth", 50, "ResNet depth: 18, 34, 50 or 101")
	size := fs.Int("size", 224, "image height and width")
	batch := fs.Int("batch", 1, "images per pass")
	iters := fs.Int("iters", 3, "timed passes per variant (after one warm-up pass); the median is shown")
	classes := fs.Int("classes", 1000, "classifier outputs")
	list := fs.String("variants", strings.Join(nets.Variants(), ","), "comma-separated values of model.attention")
	fusion := fs.String("fusion", "parallel", "model.csca_fusion: parallel or sequential")
	form := fs.String("form", "plain", "model.gate_form: plain or residual")
	threads := fs.Int("threads", 0, "intra-op threads (0: all CPUs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *iters < 1 {
		return fmt.Errorf("-iters %d: want at least 1", *iters)
	}
	sc := ops.DefaultSessionConfig()
	if *threads > 0 {
		sc.IntraOpThreads = *threads
	}
	rt, err := ops.Probe()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ResNet-%d, %d classes, %d×%d input, batch %d, median of %d passes; TensorFlow %s on %d CPUs (%d intra-op threads)\n\n",
		*depth, *classes, *size, *size, *batch, *iters, rt.Version, runtime.NumCPU(), sc.IntraOpThreads)
	fmt.Fprintln(out, "| variant | parameters | GFLOPs | forward ms | forward+backward ms |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	for _, v := range strings.Split(*list, ",") {
		cfg := nets.DefaultConfig()
		cfg.Attention, cfg.Depth, cfg.NumClasses, cfg.CSCAFusion, cfg.GateForm = strings.TrimSpace(v), *depth, *classes, *fusion, *form
		params, flops, err := nets.Stats(cfg, *size)
		if err != nil {
			return err
		}
		fwd, bwd, err := timeVariant(ctx, cfg, *batch, *size, *iters, sc)
		if err != nil {
			return fmt.Errorf("%s: %w", cfg.Attention, err)
		}
		fmt.Fprintf(out, "| %s | %s | %.2f | %.0f | %.0f |\n", cfg.Attention, thousands(params), float64(flops)/1e9, ms(fwd), ms(bwd))
	}
	return nil
}

// timeVariant returns the median durations of a forward and a forward+backward pass.
func timeVariant(ctx context.Context, cfg nets.Config, batch, size, iters int, sc ops.SessionConfig) (fwd, bwd time.Duration, err error) {
	w, err := nets.NewWorkload(cfg, batch, size, sc)
	if err != nil {
		return 0, 0, err
	}
	defer w.Close()
	median := func(pass func() error) (time.Duration, error) {
		if err := pass(); err != nil { // warm-up: graph optimisation and allocation
			return 0, err
		}
		d := make([]time.Duration, iters)
		for i := range d {
			if err := ctx.Err(); err != nil {
				return 0, errors.New("interrupted")
			}
			start := time.Now()
			if err := pass(); err != nil {
				return 0, err
			}
			d[i] = time.Since(start)
		}
		slices.Sort(d)
		return d[len(d)/2], nil
	}
	if fwd, err = median(w.Forward); err != nil {
		return 0, 0, err
	}
	bwd, err = median(w.ForwardBackward)
	return fwd, bwd, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// thousands formats n with comma separators: 25,557,032.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
