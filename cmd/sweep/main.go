// Command sweep trains a grid of runs: datasets × attention variants × seeds, one run directory each
// (OUT/<dataset>/<variant>/seed<S>), with shared -set overrides. It builds cmd/train once and runs it per
// run, up to -parallel at a time, each run's output in RUN/train.log. A run whose directory has
// summary.json is skipped; one with a checkpoint is resumed (-resume); one left without a checkpoint
// starts over. A failed run does not stop the others (unless -fail-fast); failures are listed at the end
// with their logs. Ctrl-C (or SIGTERM) asks every running trainer to checkpoint and stop; run the same
// command again to go on.
//
// Usage:
//
//	go run ./cmd/sweep -datasets cub,dogs,cars -variants none,fcn,ca,sa,csca -seeds 1,2,3 -out runs/table1
//	go run ./cmd/sweep -config configs/demo.yaml -datasets synthetic -seeds 1-3 -set train.epochs=5 -dry-run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/finegrain/finegrain/internal/sweep"
)

// trainerPackage is the trainer that the sweep builds when -trainer is not given.
const trainerPackage = "github.com/finegrain/finegrain/cmd/train"

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "\nsweep: interrupted: the running trainers checkpoint and stop (Ctrl-C again to quit at once)")
		cancel()
		<-sig
		fmt.Fprintln(os.Stderr, "sweep: quit")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	var u usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp): // the usage was asked for and printed
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string { return strings.Join(*s, " ") }

func (s *setFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*s = append(*s, v)
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	datasets := fs.String("datasets", "cub,dogs,cars", "comma-separated datasets (the {dataset} of -config)")
	variants := fs.String("variants", "none,fcn,ca,sa,csca", "comma-separated attention variants (the {variant} of -config, else -set model.attention)")
	seeds := fs.String("seeds", "1,2,3", "comma-separated seeds or ranges (1,2,3 or 1-3), each given as -set train.seed")
	config := fs.String("config", sweep.DefaultConfig, "configuration file of each run; {dataset} and {variant} are replaced by the run's")
	var sets setFlags
	fs.Var(&sets, "set", "override `key=value` for every run (repeatable), as cmd/train's -set")
	out := fs.String("out", "runs/sweep", "sweep `directory`: runs go to OUT/<dataset>/<variant>/seed<S>")
	parallel := fs.Int("parallel", 1, "runs at a time")
	threads := fs.Int("threads", 0, "runtime.intra_op_threads and data.workers of each run unless -set gives them; 0 = CPUs / parallel with -parallel > 1, else the configuration's; -1 = the configuration's")
	trainer := fs.String("trainer", "", "trainer `executable` (default: go build "+trainerPackage+" once, into a temporary directory)")
	failFast := fs.Bool("fail-fast", false, "stop at the first failed run (running ones checkpoint and stop)")
	grace := fs.Duration("grace", sweep.DefaultGrace, "how long an interrupted trainer may take to checkpoint before it is killed")
	dryRun := fs.Bool("dry-run", false, "print the plan (each run's state and command) and train nothing")
	quiet := fs.Bool("quiet", false, "no progress lines; only the final tally and failures")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: sweep [-datasets LIST] [-variants LIST] [-seeds LIST] [-config PATTERN] [-set key=value]... [-out DIR] [flags]

Trains datasets × attention variants × seeds with cmd/train, one run directory each.

Runs go to OUT/<dataset>/<variant>/seed<S>, each with its output in RUN/train.log. A finished run is
skipped, an interrupted one resumed: run the same command again to go on. Ctrl-C asks every running
trainer to checkpoint and stop. go run ./cmd/report OUT then gathers the runs into a table.

Examples:
  go run ./cmd/sweep -datasets cub,dogs,cars -variants none,fcn,ca,sa,csca -seeds 1,2,3 -out runs/table1
  go run ./cmd/sweep -config configs/demo.yaml -datasets synthetic -seeds 1-3 -set train.epochs=5 -dry-run
  go run ./cmd/sweep -config 'my_{dataset}.yaml' -datasets a,b -variants none,csca -parallel 2 -out runs/mine

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if *parallel < 1 {
		return usageError{fmt.Sprintf("-parallel %d: want at least 1", *parallel)}
	}
	seedList, err := parseSeeds(*seeds)
	if err != nil {
		return usageError{err.Error()}
	}
	g := sweep.Grid{
		Datasets: splitList(*datasets),
		Variants: splitList(*variants),
		Seeds:    seedList,
		Config:   *config,
		Sets:     sets,
		Out:      *out,
		Threads:  *threads,
	}
	switch {
	case *threads == 0 && *parallel > 1:
		g.Threads = max(1, runtime.NumCPU() / *parallel)
	case *threads < 0:
		g.Threads = 0
	}
	runs, err := g.Runs()
	if err != nil {
		return usageError{err.Error()}
	}
	if *dryRun {
		return printPlan(stdout, runs, *trainer)
	}

	exe := *trainer
	if exe == "" {
		tmp, err := os.MkdirTemp("", "finegrain-sweep-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		exe = filepath.Join(tmp, "train")
		if !*quiet {
			fmt.Fprintf(stdout, "sweep: building %s\n", trainerPackage)
		}
		build := exec.CommandContext(ctx, "go", "build", "-o", exe, trainerPackage)
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the trainer (run the sweep inside the repository, or give -trainer): %w", err)
		}
	}
	r := &sweep.Runner{Trainer: exe, Parallel: *parallel, FailFast: *failFast, Grace: *grace}
	if !*quiet {
		r.Progress = stdout
	}
	t0 := time.Now()
	outcomes, err := r.Execute(ctx, runs)
	if err != nil {
		return err
	}
	err = sweep.Summarize(stdout, outcomes)
	fmt.Fprintf(stdout, "sweep: wall time %v\n", time.Since(t0).Round(time.Second))
	return err
}

// printPlan writes one line per run: its state and the trainer command.
func printPlan(w io.Writer, runs []sweep.Run, trainer string) error {
	if trainer == "" {
		trainer = "go run ./cmd/train"
	}
	counts := map[sweep.State]int{}
	for _, r := range runs {
		st, err := sweep.Inspect(r.Dir)
		if err != nil {
			return err
		}
		counts[st]++
		args := r.Args(st == sweep.Resume)
		fmt.Fprintf(w, "%-8s %-28s %s %s\n", st, r.Name(), trainer, strings.Join(args, " "))
	}
	_, err := fmt.Fprintf(w, "plan: %d runs: %d new, %d restart (no checkpoint: cleared, log kept), %d resume, %d done (skipped)\n",
		len(runs), counts[sweep.New], counts[sweep.Restart], counts[sweep.Resume], counts[sweep.Done])
	return err
}

// splitList splits a comma-separated list, dropping spaces around items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSeeds reads "1,2,3", "1-3" or a mix.
func parseSeeds(s string) ([]int64, error) {
	var seeds []int64
	for _, p := range splitList(s) {
		lo, hi, isRange := strings.Cut(p, "-")
		if !isRange || lo == "" { // a lone number, possibly negative
			v, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("-seeds %q: %q is not a seed", s, p)
			}
			seeds = append(seeds, v)
			continue
		}
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || b < a || b-a >= 10000 {
			return nil, fmt.Errorf("-seeds %q: %q is not a range like 1-5", s, p)
		}
		for v := a; v <= b; v++ {
			seeds = append(seeds, v)
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("-seeds %q: no seeds", s)
	}
	return seeds, nil
}
