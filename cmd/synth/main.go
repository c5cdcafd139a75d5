// Command synth generates the synthetic fine-grained benchmark (package pipeline/synth) in the
// CUB-200-2011 layout, and draws contact sheets of it.
//
// Usage:
//
//	go run ./cmd/synth -out data/synth [-classes 20] [-per-class 60] [-size 128] [-difficulty 0.5] [-seed 1]
//	go run ./cmd/synth -out data/synth -contact docs/synthetic_contact_sheet.png
//	go run ./cmd/synth -contact sheet.png -contact-classes 6 -contact-samples 10
//
// Generating into a folder that already holds the same benchmark does nothing; an interrupted or
// different benchmark there is replaced. Read the result with datasets.Open("synthetic", dir).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/finegrain/finegrain/pipeline/synth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: it returns the exit status (0 done, 1 failed, 2 bad usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := synth.DefaultConfig()
	out := fs.String("out", "", "write the benchmark to this `dir` (CUB layout)")
	contact := fs.String("contact", "", "write a PNG contact sheet to this `file`")
	cfg := synth.Config{}
	fs.IntVar(&cfg.Classes, "classes", d.Classes, fmt.Sprintf("number of species, 2..%d", synth.MaxClasses))
	fs.IntVar(&cfg.PerClass, "per-class", d.PerClass, "images per species")
	fs.IntVar(&cfg.Size, "size", d.Size, "image side in pixels")
	fs.Float64Var(&cfg.Difficulty, "difficulty", d.Difficulty, "clutter, pose, lighting and occlusion, 0..1")
	fs.Float64Var(&cfg.TrainFraction, "train-fraction", d.TrainFraction, "share of each species in the training split")
	fs.Uint64Var(&cfg.Seed, "seed", d.Seed, "random seed: the benchmark is a function of it")
	fs.IntVar(&cfg.Quality, "quality", d.Quality, "JPEG quality, 1..100")
	fs.IntVar(&cfg.Workers, "workers", 0, "images rendered at once (0: one per CPU); the files do not depend on it")
	rows := fs.Int("contact-classes", 6, "species (rows) on the contact sheet")
	cols := fs.Int("contact-samples", 6, "images per species (columns) on the contact sheet")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: synth -out DIR [-contact FILE.png] [flags]

Generates the synthetic fine-grained benchmark in the CUB-200-2011 layout, and draws contact sheets.

Its species are one stylised bird that differs only in small parts (wing bar, eye ring, crest, tail
pattern, beak). Generating into a folder that holds the same benchmark does nothing. Train on it with
data.format: synthetic (configs/demo.yaml): training generates it when data.root holds none yet.

Examples:
  go run ./cmd/synth -out data/synth
  go run ./cmd/synth -out data/synth -classes 50 -per-class 40 -size 160 -difficulty 0.7 -seed 2
  go run ./cmd/synth -contact sheet.png -contact-classes 6 -contact-samples 10

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synth: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	if *out == "" && *contact == "" {
		fmt.Fprintln(stderr, "synth: nothing to do: give -out DIR, -contact FILE, or both")
		fs.Usage()
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *out != "" {
		start := time.Now()
		done := synth.Complete(*out, cfg)
		if err := synth.Generate(ctx, *out, cfg); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if done {
			fmt.Fprintf(stdout, "%s already holds this benchmark\n", *out)
		} else {
			fmt.Fprintf(stdout, "wrote %d species × %d images of %d px to %s in %.1fs\n",
				cfg.Classes, cfg.PerClass, cfg.Size, *out, time.Since(start).Seconds())
		}
	}
	if *contact != "" {
		if err := writeSheet(*contact, cfg, *rows, *cols); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote contact sheet %s (%d species × %d images)\n", *contact, *rows, *cols)
	}
	return 0
}

// writeSheet writes the contact sheet through a temporary file, so a failure leaves no half PNG.
func writeSheet(path string, cfg synth.Config, rows, cols int) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".contact-*.png")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := synth.ContactSheet(tmp, cfg, rows, cols); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
