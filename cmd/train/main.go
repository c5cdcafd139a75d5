// Command train trains a model from a configuration:
//
//	go run ./cmd/train -config configs/csca_cars.yaml
//
// It writes the run directory (runs/<config name> unless -out or run.dir say otherwise): the resolved
// config.yaml, metrics.jsonl and metrics.csv, TensorBoard events/, checkpoints/ and, at the end,
// summary.json. SIGINT or SIGTERM finishes the current step, writes a checkpoint and exits with status
// 130; -resume continues exactly where it stopped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/train"
)

func main() {
	cli.QuietLogs()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf train.ConfigFlags
	cf.Register(fs)
	out := fs.String("out", "", "run `directory` (default: run.dir, else runs/<config file name>)")
	resume := fs.Bool("resume", false, "continue the run in the run directory from its latest checkpoint (its config.yaml, with -set applied; -config is optional)")
	force := fs.Bool("force", false, "start over in an existing run directory, deleting what an earlier run wrote there (refused if it holds anything else)")
	repair := fs.Bool("repair", false, "rebuild a damaged or missing checkpoints/checkpoint.json of the run directory -out from its intact checkpoints (the damaged file is kept), then exit")
	quiet := fs.Bool("quiet", false, "no progress output: warnings, errors and the final line only")
	dry := fs.Bool("dry-run", false, "validate the config, index the dataset, build the graph, print a summary; train nothing")
	asJSON := fs.Bool("json", false, "with -dry-run: print the summary as one JSON object on stdout (logs on stderr)")
	keys := fs.Bool("keys", false, "print the table of configuration keys (Markdown) and exit")
	prepare := fs.Bool("prepare", false, "only prepare the dataset: generate a synthetic one into data.root if it is not there, index it, print the split sizes")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: train -config FILE [-set key=value]... [flags]

Trains a model as a configuration describes (configs/README.md lists every key).

The run directory keeps config.yaml, metrics.jsonl, metrics.csv, events/ (TensorBoard), checkpoints/
and summary.json.
Ctrl-C (SIGINT) or SIGTERM finishes the step, writes a checkpoint and exits with status 130.

Examples:
  go run ./cmd/train -config configs/demo.yaml
  go run ./cmd/train -config configs/csca_cub.yaml -set data.root=/data/CUB_200_2011 -set train.epochs=50
  go run ./cmd/train -config configs/csca_cub.yaml -dry-run -json
  go run ./cmd/train -resume -out runs/csca_cub

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "train: unexpected arguments %q (flags come before them; see -h)\n", fs.Args())
		return exitUsage
	}
	if *keys {
		fmt.Fprint(stdout, train.KeyTable())
		return exitOK
	}
	if *repair {
		if *out == "" || *resume || *force || *dry {
			fmt.Fprintln(stderr, "train: -repair goes with -out RUN alone (see -h)")
			return exitUsage
		}
		p, err := train.RepairPointer(*out)
		if err != nil {
			fmt.Fprintf(stderr, "train: %v\n", err)
			return exitFailed
		}
		best := p.Best
		if best == "" {
			best = "none (the best validation epoch's checkpoint is gone: the run will select its last one)"
		}
		fmt.Fprintf(stdout, "rebuilt %s from %d intact checkpoints: latest %s, best %s\nresume with: go run ./cmd/train -resume -out %s\n",
			filepath.Join(*out, "checkpoints", "checkpoint.json"), len(p.Checkpoints), p.Latest, best, *out)
		return exitOK
	}
	if *resume && *force {
		fmt.Fprintln(stderr, "train: -resume and -force exclude each other")
		return exitUsage
	}
	if *asJSON && !*dry {
		fmt.Fprintln(stderr, "train: -json goes with -dry-run")
		return exitUsage
	}
	if cf.Path == "" && !*resume {
		fmt.Fprintln(stderr, "train: -config FILE is required (see -h; configs/ has one per dataset and variant)")
		return exitUsage
	}

	cfg, runDir, err := resolve(&cf, *out, *resume)
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return exitUsage
	}
	if cfg.Train.Deterministic {
		if err := cli.Deterministic(); err != nil {
			fmt.Fprintf(stderr, "train: %v\n", err)
			return exitFailed
		}
	}

	if *prepare {
		sp, err := train.IndexData(ctx, cfg, true)
		if err != nil {
			fmt.Fprintf(stderr, "train: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s: %d classes, %d train, %d val, %d test images\n", sp.Source, len(sp.Classes), len(sp.Train), len(sp.Val), len(sp.Test))
		return exitOK
	}
	if *dry {
		plan, err := train.DryRun(ctx, cfg, cf.Path, runDir, nil)
		if err != nil {
			fmt.Fprintf(stderr, "train: dry run: %v\n", err)
			return exitFailed
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			if err := enc.Encode(plan); err != nil {
				fmt.Fprintf(stderr, "train: %v\n", err)
				return exitFailed
			}
		} else {
			if err := plan.WriteText(stdout); err != nil {
				fmt.Fprintf(stderr, "train: %v\n", err)
				return exitFailed
			}
		}
		return exitOK
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished) // runs before stop: a run that ends by itself announces no stop
	go func() {
		<-ctx.Done()
		select {
		case <-finished:
			return
		default:
		}
		stop() // a second Ctrl-C ends the process at once
		fmt.Fprintln(stderr, "\ntrain: stopping after this step to write a checkpoint (Ctrl-C again to abort without one)")
	}()
	sum, err := train.Run(ctx, cfg, train.Options{RunDir: runDir, Resume: *resume, Force: *force, Quiet: *quiet, Log: stderr})
	var intr *train.Interrupted
	switch {
	case errors.As(err, &intr):
		fmt.Fprintf(stderr, "train: %v\n", err)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "train: %v\n", err)
		return exitFailed
	}
	if *quiet {
		fmt.Fprintf(stderr, "test top1 %.4f top5 %.4f (%s) -> %s\n", sum.TestTop1, sum.TestTop5, sum.Selection, runDir)
	}
	return exitOK
}

// resolve loads the configuration and names the run directory: -out, else run.dir, else
// runs/<config name>. With -resume the configuration is the config.yaml saved in the run directory,
// with -set and the environment applied (-config then only names the directory).
func resolve(cf *train.ConfigFlags, out string, resume bool) (*train.Config, string, error) {
	runDir := out
	if !resume {
		cfg, err := cf.Load(true)
		if err != nil {
			return nil, "", err
		}
		if runDir == "" {
			runDir = cfg.Run.Dir
		}
		if runDir == "" {
			runDir = train.DefaultRunDir(cf.Path)
		}
		return cfg, runDir, nil
	}
	if runDir == "" {
		if cf.Path == "" {
			return nil, "", errors.New("-resume needs the run directory: -out DIR (or the -config the run was started with)")
		}
		cfg, err := cf.LoadFile()
		if err != nil {
			return nil, "", err
		}
		runDir = cfg.Run.Dir
		if runDir == "" {
			runDir = train.DefaultRunDir(cf.Path)
		}
	}
	saved := filepath.Join(runDir, "config.yaml")
	if _, err := os.Stat(saved); err != nil {
		return nil, "", fmt.Errorf("-resume: %s is not a run directory: %w", runDir, err)
	}
	cfg, err := train.Load(train.LoadOptions{Path: saved, Sets: cf.Sets, CheckPaths: true})
	return cfg, runDir, err
}
