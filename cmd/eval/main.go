// Command eval scores a trained model on a dataset split: top-1, top-5 and per-class accuracy, and the
// confusion matrix as CSV.
//
//	go run ./cmd/eval -model runs/demo                 # the checkpoint the run selected, test split
//	go run ./cmd/eval -model runs/demo/export -split val
//
// -model is a run directory, a checkpoint directory or prefix, or a SavedModel directory (cmd/export);
// -checkpoint is an alias of it. Of a run directory it takes the checkpoint the run selected and
// evaluated (summary.json's checkpoint), as cmd/export does; -best or -latest take another. A
// checkpoint is evaluated with its run's config.yaml unless -config is given; a SavedModel with the
// dataset its assets/metadata.json records unless -config is given, and with its own input size and
// resize.
package main

import (
	"bytes"
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
	"sort"
	"strings"
	"syscall"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/train"
)

func main() {
	cli.QuietLogs()
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
	var pf train.PickFlags
	pf.Register(fs)
	var model, checkpoint string
	fs.StringVar(&model, "model", "", "run directory, checkpoint (directory or prefix) or SavedModel `path`")
	fs.StringVar(&checkpoint, "checkpoint", "", "alias of -model: the same `path`, under the name cmd/export used for it")
	split := fs.String("split", "test", "dataset split: test, val (carved from the training split as in training) or train")
	out := fs.String("out", "", "output `directory` for metrics.json, per_class.csv, confusion.csv (default: RUN/eval-SPLIT for a run, else eval-SPLIT)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: eval -model PATH [-best|-latest] [-config FILE] [-set key=value]... [-split test|val|train] [flags]

Evaluates a trained model on a dataset split: top-1, top-5, per-class accuracy and the confusion matrix.

It writes metrics.json, per_class.csv and confusion.csv (rows: true class, columns: predicted class).
PATH is a run directory, a checkpoint directory or prefix, or a SavedModel (cmd/export). Of a run
directory it evaluates the checkpoint the run selected and evaluated itself (summary.json's checkpoint;
before the run finished, its best validation checkpoint so far, else its latest), as cmd/export
exports; -best takes the best by validation top-1, -latest the latest. A checkpoint is evaluated on the
dataset of its run's config.yaml, a SavedModel on the one its assets/metadata.json records; -config or
-set give another. -checkpoint is an alias of -model.

Examples:
  go run ./cmd/eval -model runs/demo
  go run ./cmd/eval -model runs/demo -latest -split val
  go run ./cmd/eval -model runs/demo/checkpoints/ckpt-000000192
  go run ./cmd/eval -model runs/demo/export
  go run ./cmd/eval -model runs/demo/export -set data.root=/data/elsewhere

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
	model, err := modelFlag(model, checkpoint)
	if err != nil {
		fmt.Fprintf(stderr, "eval: %v\n", err)
		return 2
	}
	pick, err := pf.Pick()
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "eval: %v\n", err)
		return 2
	case model == "":
		fmt.Fprintln(stderr, "eval: -model PATH is required (see -h)")
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "eval: unexpected arguments %q (flags come before them; see -h)\n", fs.Args())
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := evaluate(ctx, &cf, model, pick, *split, *out, stderr)
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

// modelFlag is -model, or -checkpoint, its alias; both are accepted only when they agree.
func modelFlag(model, alias string) (string, error) {
	if model != "" && alias != "" && model != alias {
		return "", fmt.Errorf("-model %s and -checkpoint %s: -checkpoint is an alias of -model; give one", model, alias)
	}
	if model == "" {
		return alias, nil
	}
	return model, nil
}

func evaluate(ctx context.Context, cf *train.ConfigFlags, model string, pick train.Pick, split, out string, stderr io.Writer) (*Result, error) {
	if _, err := os.Stat(filepath.Join(model, "saved_model.pb")); err == nil {
		if pick != train.PickSelected {
			return nil, fmt.Errorf("-%s chooses among the checkpoints of a run directory; %s is a SavedModel, which holds one model", pick, model)
		}
		return evaluateSavedModel(ctx, cf, model, split, out)
	}
	ckdir, prefix, why, err := train.PickCheckpoint(model, pick)
	if err != nil {
		return nil, err
	}
	if why != "" {
		fmt.Fprintf(stderr, "eval: %s\n", why)
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
	if cfg.Train.Deterministic { // the run's session settings, as it trained
		if err := cli.Deterministic(); err != nil {
			return nil, err
		}
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
	meta := m.Metadata()
	var cfg *train.Config
	if cf.Path != "" {
		if cfg, err = cf.Load(true); err != nil {
			return nil, err
		}
	} else if cfg, err = metadataConfig(dir, meta, cf.Sets); err != nil {
		return nil, err
	}
	// The model fixes its input; its metadata records the resize it was evaluated with (0 from a model
	// that records none: 8/7 of the input, as in training).
	cfg.Data.ImageSize, cfg.Data.ResizeSize = m.InputSize(), meta.ResizeSize
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

// metadataConfig is the configuration of the dataset that the SavedModel in dir was trained on, from
// the training configuration its assets/metadata.json records, with sets (-set) applied over it.
func metadataConfig(dir string, meta exported.Metadata, sets []string) (*train.Config, error) {
	path := filepath.Join(dir, "assets", exported.MetadataFile)
	fromMeta, err := datasetSets(meta.Config, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(fromMeta) == 0 {
		if len(sets) == 0 {
			return nil, fmt.Errorf("%s records no training configuration, so no dataset: give the dataset with -config FILE (or -set data.format=... -set data.root=DIR)", path)
		}
		return train.Load(train.LoadOptions{Sets: sets, CheckPaths: true})
	}
	cfg, err := train.Load(train.LoadOptions{Sets: append(fromMeta, sets...), CheckPaths: true})
	if err == nil {
		return cfg, nil
	}
	// The problems are the recorded configuration's (with -set), not the defaults' that Load names.
	problems := err.Error()
	var ce *train.ConfigError
	if errors.As(err, &ce) {
		problems = strings.Join(ce.Problems, "\n  - ")
	}
	return nil, fmt.Errorf("the dataset that %s records (the one the model was trained on) cannot be read here:\n  - %s\ngive its current place with -set data.root=DIR, or another dataset with -config FILE", path, problems)
}

// datasetSets are the -set overrides that name the dataset of a recorded training configuration (JSON
// with the configuration's key names): every data.* key but data.workers (this machine's choice), and
// train.seed, which carves the validation split. A key that the environment sets (getenv of its
// FINEGRAIN_ variable) is left to it, so the environment overrides the recorded value as it overrides
// a configuration file. The model's own keys are left out: the SavedModel is the model, and the file
// model.pretrained names need not exist where it is evaluated.
func datasetSets(config json.RawMessage, getenv func(string) string) ([]string, error) {
	if len(config) == 0 {
		return nil, nil
	}
	var c struct {
		Data  map[string]any `json:"data"`
		Train map[string]any `json:"train"`
	}
	d := json.NewDecoder(bytes.NewReader(config))
	d.UseNumber() // a seed above 2^53 keeps its digits
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var sets []string
	var add func(key string, v any) error
	add = func(key string, v any) error {
		switch v := v.(type) {
		case nil:
			return nil
		case map[string]any:
			for k, x := range v {
				if err := add(key+"."+k, x); err != nil {
					return err
				}
			}
			return nil
		}
		if getenv(train.EnvName(key)) != "" {
			return nil
		}
		if str, ok := v.(string); ok { // -set takes a string key's value as it is
			sets = append(sets, key+"="+str)
			return nil
		}
		b, err := json.Marshal(v) // JSON is YAML: numbers keep their digits, lists flow
		if err != nil {
			return fmt.Errorf("config key %s: %w", key, err)
		}
		sets = append(sets, key+"="+string(b))
		return nil
	}
	for k, v := range c.Data {
		if k == "workers" {
			continue
		}
		if err := add("data."+k, v); err != nil {
			return nil, err
		}
	}
	if v, ok := c.Train["seed"]; ok {
		if err := add("train.seed", v); err != nil {
			return nil, err
		}
	}
	sort.Strings(sets)
	return sets, nil
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
