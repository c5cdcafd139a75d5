// Command report gathers the finished runs below a sweep directory (RUN/summary.json, RUN/config.yaml,
// RUN/metrics.jsonl) into the layout of the paper's Table 1 — rows datasets (a data root and class
// count), columns ResNet, FCN, CA, SA, CSCA, cells mean ± sample standard deviation of the test top-1
// accuracy over seeds, the best of each row in bold — and, below it, each variant's paired difference to
// ResNet (same seed, dataset and settings) with its standard error, for the selected checkpoint and the
// last epoch. Runs that differ in a setting besides the variant and the seed (depth, width, gate form,
// fusion, stages, pretrained weights, image size...) are never averaged together: each value has its own
// column, and the report names the settings that differ. It writes report.md, table.csv, paired.csv,
// runs.csv and PNG plots (accuracy per column and dataset, training curves per column) into the sweep
// directory or -out. The report is also printed. Runs without a readable summary are listed as skipped,
// with their paths.
//
// Usage:
//
//	go run ./cmd/report [-paper] [-out DIR] [-metric test_top1] [-plots=false] [-quiet] RUNS_DIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/finegrain/finegrain/internal/report"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var u usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for report.md, table.csv, paired.csv, runs.csv and the plots (default RUNS_DIR)")
	paper := fs.Bool("paper", false, "add the paper's Table 1 (real datasets, ResNet-50) beside ours")
	plots := fs.Bool("plots", true, "draw the PNG plots")
	metric := fs.String("metric", "test_top1", "summary field in the cells: "+strings.Join(report.Metrics, ", "))
	quiet := fs.Bool("quiet", false, "do not print the report")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: report [flags] RUNS_DIR

Gathers the finished runs below RUNS_DIR into the paper's Table 1 layout.

It writes report.md, table.csv, runs.csv, paired.csv and the plots into -out (default RUNS_DIR).

Examples:
  go run ./cmd/report runs/sweep
  go run ./cmd/report -paper -out docs/table1 runs/table1

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{fmt.Sprintf("want one RUNS_DIR, got %d arguments", fs.NArg())}
	}
	root := fs.Arg(0)
	if *out == "" {
		*out = root
	}
	res, err := report.Generate(root, *out, report.Options{Metric: *metric, Paper: *paper, Plots: *plots})
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "report: skipped %s\n", p)
	}
	if !*quiet {
		stdout.Write(res.Markdown)
	}
	fmt.Fprintf(stderr, "report: %d runs; wrote %s\n", len(res.Runs), strings.Join(res.Files, ", "))
	return nil
}
