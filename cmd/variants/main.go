// Command variants prints the table of model variants as a markdown table: trainable parameters,
// GFLOPs of one forward pass (multiply-adds of convolutions and dense layers, torchvision's convention),
// and the median time of a forward pass (inference mode) and of a forward+backward pass (training
// mode: gradients of every variable and BN updates, no optimiser step) for one batch: wall-clock time,
// and the CPU time the process used (user + system, all threads), which other load on the machine
// disturbs less. The models are the ones training builds: configs/defaults.yaml's model section, with
// the flags' changes.
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

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/train"
)

func main() {
	cli.QuietLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "variants:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "variants:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line (exit status 2).
type usageError struct{ error }

// options are the command's flags.
type options struct {
	depth, size, batch, iters, classes, threads int
	list, fusion, form                          string
}

// newFlags declares the flags. The model defaults are training's (configs/defaults.yaml), so that the
// table describes the models a run builds unless a flag says otherwise.
func newFlags(stderr io.Writer) (*flag.FlagSet, *options) {
	d := train.Default().Model
	fs := flag.NewFlagSet("variants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVar(&o.depth, "depth", d.Depth, "ResNet depth: 18, 34, 50 or 101 (model.depth)")
	fs.IntVar(&o.size, "size", 224, "image height and width")
	fs.IntVar(&o.batch, "batch", 1, "images per pass")
	fs.IntVar(&o.iters, "iters", 3, "timed passes per variant (after one warm-up pass); the median is shown")
	fs.IntVar(&o.classes, "classes", 1000, "classifier outputs")
	fs.StringVar(&o.list, "variants", strings.Join(nets.Variants(), ","), "comma-separated values of model.attention")
	fs.StringVar(&o.fusion, "fusion", string(d.CSCAFusion), "model.csca_fusion: parallel or sequential")
	fs.StringVar(&o.form, "form", string(d.GateForm), "model.gate_form: plain or residual")
	fs.IntVar(&o.threads, "threads", 0, "intra-op threads (0: all CPUs)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: variants [-depth N] [-size S] [-batch B] [-iters I] [-variants LIST] [flags]

Prints the attention variants' parameters, GFLOPs and forward and forward+backward times as a table.

The models are the ones training builds (configs/defaults.yaml's model section: gate form %s, csca
fusion %s, reduction %d), changed by the flags. Times are medians of -iters passes after a warm-up,
wall-clock and CPU time of the process.

Examples:
  go run ./cmd/variants
  go run ./cmd/variants -depth 18 -size 112 -batch 8 -iters 5
  go run ./cmd/variants -variants none,csca -form plain

Flags:
`, d.GateForm, d.CSCAFusion, d.Reduction)
		fs.PrintDefaults()
	}
	return fs, o
}

func run(ctx context.Context, args []string, out, stderr io.Writer) error {
	fs, o := newFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())}
	}
	if o.iters < 1 {
		return usageError{fmt.Errorf("-iters %d: want at least 1", o.iters)}
	}
	sc := ops.DefaultSessionConfig()
	if o.threads > 0 {
		sc.IntraOpThreads = o.threads
	}
	rt, err := ops.Probe()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ResNet-%d, %d classes, %d×%d input, gate form %s, csca fusion %s, batch %d, median of %d passes; TensorFlow %s on %d CPUs (%d intra-op threads)\n\n",
		o.depth, o.classes, o.size, o.size, o.form, o.fusion, o.batch, o.iters, rt.Version, runtime.NumCPU(), sc.IntraOpThreads)
	fmt.Fprintln(out, "| variant | parameters | GFLOPs | forward ms | forward+backward ms | forward CPU ms | forward+backward CPU ms |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|")
	for _, v := range strings.Split(o.list, ",") {
		cfg := train.Default().NetConfig(o.classes)
		cfg.Attention, cfg.Depth = nets.Attention(strings.TrimSpace(v)), o.depth
		cfg.CSCAFusion, cfg.GateForm = nets.CSCAFusion(o.fusion), nets.GateForm(o.form)
		params, flops, err := nets.Stats(cfg, o.size)
		if err != nil {
			return err
		}
		fwd, bwd, err := timeVariant(ctx, cfg, o.batch, o.size, o.iters, sc)
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
