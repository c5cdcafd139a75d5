// Command eval scores a trained model on a dataset split: top-1, top-5 and per-class accuracy, and the
// confusion matrix as CSV.
//
//	go run ./cmd/eval -model runs/demo                        # the run's selected checkpoint, test split
//	go run ./cmd/eval -model runs/demo/export -config configs/demo.yaml -split val
//
// -model is a run directory, a checkpoint directory or prefix, or a SavedModel directory (cmd/export).
// A checkpoint is evaluated with its run's config.yaml unless -config is given; a SavedModel needs
// -config (or -set) for the dataset, and brings its own input size.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/train"
)

func main() {
	ops.QuietLogs()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Result is what eval prints with -json and writes as metrics.json.
type Result struct {
	Model        string             `json:"model"`
	Split        string             `json:"split"`
	Dataset      string             `json:"dataset"`
	Images       int64              `json:"images"`
	Skipped      int64              `json:"skipped"`
	Top1         float64            `json:"top1"`
	Top5         float64            `json:"top5"`
	MeanClassAcc float64            `json:"mean_class_acc"`
	Loss         float64            `json:"loss"`
	PerClass     map[string]float64 `json:"per_class"`
	Out          string             `json:"out"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf train.ConfigFlags
	cf.Register(fs)
	model := fs.String("model", "", "run directory, checkpoint (directory or prefix) or SavedModel `path`")
	split := fs.String("split", "test", "dataset split: test, val (carved from the training split as in training) or train")
	out := fs.String("out", "", "output `directory` for metrics.json, per_class.csv, confusion.csv (default: RUN/eval-SPLIT for a run, else eval-SPLIT)")
	best := fs.Bool("best", true, "for a run directory: the checkpoint the run selected (best validation), else its latest")
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: eval -model PATH [-config FILE] [-set key=value]... [-split test|val|train] [flags]

Evaluates a checkpoint or a SavedModel on a dataset split and writes metrics.json, per_class.csv and
confusion.csv (rows: true class, columns: predicted class).

Examples:
  go run ./cmd/eval -model runs/demo
  go run ./cmd/eval -model runs/demo/checkpoints/ckpt-000000192 -split val
  go run ./cmd/eval -model runs/demo/export -config configs/demo.yaml

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
	if *model == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "eval: -model PATH is required (see -h)")
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := evaluate(ctx, &cf, *model, *split, *out, *best)
	if err != nil {
		fmt.Fprintf(stderr, "eval: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintf(stderr, "eval: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s on %s %s (%d images", res.Model, res.Dataset, res.Split, res.Images)
	if res.Skipped > 0 {
		fmt.Fprintf(stdout, ", %d unreadable skipped", res.Skipped)
	}
	fmt.Fprintf(stdout, "): top1 %.4f top5 %.4f mean-class %.4f\nwrote %s\n", res.Top1, res.Top5, res.MeanClassAcc, res.Out)
	return 0
}

func evaluate(ctx context.Context, cf *train.ConfigFlags, model, split, out string, best bool) (*Result, error) {
	if _, err := os.Stat(filepath.Join(model, "saved_model.pb")); err == nil {
		return evaluateSavedModel(ctx, cf, model, split, out)
	}
	ckdir, prefix, err := train.ResolveCheckpoint(model, best)
	if err != nil {
		return nil, err
	}
	runDir := train.RunDirOf(ckdir)
	cfg, err := checkpointConfig(cf, runDir)
	if err != nil {
		return nil, err
	}
	data, records, err := openSplit(ctx, cfg, split)
	if err != nil {
		return nil, err
	}
	ev, err := train.EvaluateCheckpoint(ctx, cfg, prefix, data, records, nil)
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = "eval-" + split
		if runDir != "" {
			out = filepath.Join(runDir, out)
		}
	}
	return report(ev, data, ckdir, split, out)
}

// checkpointConfig is -config (or the run's config.yaml) with -set applied.
func checkpointConfig(cf *train.ConfigFlags, runDir string) (*train.Config, error) {
	if cf.Path != "" {
		return cf.Load(true)
	}
	if runDir == "" {
		return nil, errors.New("the checkpoint is not inside a run directory: give its configuration with -config")
	}
	return train.Load(train.LoadOptions{Path: filepath.Join(runDir, "config.yaml"), Sets: cf.Sets, CheckPaths: true})
}

func evaluateSavedModel(ctx context.Context, cf *train.ConfigFlags, dir, split, out string) (*Result, error) {
	m, err := exported.Load(dir)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if cf.Path == "" && len(cf.Sets) == 0 {
		return nil, errors.New("a SavedModel carries no dataset location: give the dataset with -config (or -set data.format=... -set data.root=...)")
	}
	cfg, err := cf.Load(true)
	if err != nil {
		return nil, err
	}
	meta := m.Metadata()
	cfg.Data.ImageSize = m.InputSize()
	if meta.ResizeSize > 0 {
		cfg.Data.ResizeSize = meta.ResizeSize
	}
	data, records, err := openSplit(ctx, cfg, split)
	if err != nil {
		return nil, err
	}
	if len(data.Classes) != m.NumClasses() {
		return nil, fmt.Errorf("the model has %d classes, the dataset %s has %d", m.NumClasses(), data.Source, len(data.Classes))
	}
	ev, err := train.EvaluateWith(ctx, data.Loader, records, m.NumClasses(), func(b *pipeline.Batch) ([]float32, error) {
		p, err := m.Predict(ctx, exported.Images{N: b.Len(), Height: b.Shape[1], Width: b.Shape[2], Pix: b.Images})
		if err != nil {
			return nil, err
		}
		var logits []float32
		for _, row := range p.Logits {
			logits = append(logits, row...)
		}
		return logits, nil
	})
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = "eval-" + split
	}
	return report(ev, data, dir, split, out)
}

func openSplit(ctx context.Context, cfg *train.Config, split string) (*train.Data, []pipeline.Record, error) {
	data, err := train.OpenData(ctx, cfg, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		return nil, nil, err
	}
	records, err := data.Split(split)
	if err != nil {
		return nil, nil, err
	}
	if len(records) == 0 {
		return nil, nil, fmt.Errorf("split %s of %s is empty (val needs data.val_fraction > 0)", split, data.Source)
	}
	return data, records, nil
}

func report(ev *train.Evaluation, data *train.Data, model, split, out string) (*Result, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Model: model, Split: split, Dataset: data.Source, Images: ev.Count, Skipped: ev.Skipped,
		Top1: ev.Top1Acc(), Top5: ev.Top5Acc(), MeanClassAcc: ev.MeanClassAcc(), Loss: ev.Loss(), PerClass: map[string]float64{}, Out: out}
	for i, a := range ev.PerClass() {
		if !math.IsNaN(a) {
			res.PerClass[data.Classes[i]] = a
		}
	}
	if err := ev.WriteConfusionCSV(filepath.Join(out, "confusion.csv"), data.Classes); err != nil {
		return nil, err
	}
	if err := ev.WritePerClassCSV(filepath.Join(out, "per_class.csv"), data.Classes); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}
