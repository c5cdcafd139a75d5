// Command variants prints the table of model variants as a markdown table: trainable parameters,
// GFLOPs of one forward pass (multiply-adds of convolutions and dense layers, torchvision's convention),
// and the median time of a forward pass (inference mode) and of a forward+backward pass (training
// mode: gradients of every variable and BN updates, no optimiser step) for one batch: wall-clock time,
// and the CPU time the process used (user + system, all threads), which other load on the machine
// disturbs less.
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
	"syscall"
	"time"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

func main() {
	ops.QuietLogs()
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
	fmt.Fprintln(out, "| variant | parameters | GFLOPs | forward ms | forward+backward ms | forward CPU ms | forward+backward CPU ms |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|")
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
		fmt.Fprintf(out, "| %s | %s | %.2f | %.0f | %.0f | %.0f | %.0f |\n", cfg.Attention, thousands(params), float64(flops)/1e9,
			ms(fwd.wall), ms(bwd.wall), ms(fwd.cpu), ms(bwd.cpu))
	}
	return nil
}

// timing is the median wall-clock and CPU time of one pass.
type timing struct{ wall, cpu time.Duration }

// timeVariant times a forward and a forward+backward pass.
func timeVariant(ctx context.Context, cfg nets.Config, batch, size, iters int, sc ops.SessionConfig) (fwd, bwd timing, err error) {
	w, err := nets.NewWorkload(cfg, batch, size, sc)
	if err != nil {
		return fwd, bwd, err
	}
	defer w.Close()
	median := func(pass func() error) (timing, error) {
		if err := pass(); err != nil { // warm-up: graph optimisation and allocation
			return timing{}, err
		}
		wall, cpu := make([]time.Duration, iters), make([]time.Duration, iters)
		for i := range iters {
			if err := ctx.Err(); err != nil {
				return timing{}, errors.New("interrupted")
			}
			start, startCPU := time.Now(), cpuTime()
			if err := pass(); err != nil {
				return timing{}, err
			}
			wall[i], cpu[i] = time.Since(start), cpuTime()-startCPU
		}
		slices.Sort(wall)
		slices.Sort(cpu)
		return timing{wall[iters/2], cpu[iters/2]}, nil
	}
	if fwd, err = median(w.Forward); err != nil {
		return fwd, bwd, err
	}
	bwd, err = median(w.ForwardBackward)
	return fwd, bwd, err
}

// cpuTime is the user and system time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
