// Command export writes a trained model as a TensorFlow SavedModel (package exported):
//
//	go run ./cmd/export -model runs/demo -out runs/demo/export
//	go run ./cmd/export -config configs/none_cub.yaml -weights torchvision/resnet50.v1 -labels imagenet.txt -out export/
//
// -model takes a run directory, a checkpoint directory or a variables prefix (-checkpoint is an alias
// of it). Of a run directory it exports the checkpoint the run selected and evaluated (summary.json's
// checkpoint), as cmd/eval evaluates; -best or -latest take another. Without -config the run's
// config.yaml is used, and the run's summary.json supplies the metrics when it describes the exported
// checkpoint. -weights takes pretrained weights instead: a .pth, .bin or .safetensors file in
// torchvision's naming, or a known name (cmd/weights list), imported strictly; with -labels no dataset
// is read. The class names come from -labels, else from the dataset of the configuration when it is on
// disk, else they are class_0, class_1, ...
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"go.yaml.in/yaml/v3"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/train"
	"github.com/finegrain/finegrain/weights/hub"
)

func main() {
	cli.QuietLogs()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("export", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cf train.ConfigFlags
	cf.Register(fl)
	var pf train.PickFlags
	pf.Register(fl)
	var model, checkpoint string
	fl.StringVar(&model, "model", "", "run directory, checkpoint directory or variables `prefix` to export")
	fl.StringVar(&checkpoint, "checkpoint", "", "alias of -model: the same `path`, under its former name (cmd/eval accepts it too)")
	weights := fl.String("weights", "", "pretrained weights to export instead of a checkpoint: a .pth, .bin or .safetensors `file` in torchvision's naming, or a known name (go run ./cmd/weights list)")
	freshHead := fl.Bool("fresh-head", false, "with -weights: start the classifier fresh when the model's class count differs from the file's (otherwise that is an error)")
	labelsFile := fl.String("labels", "", "class names, one per line in class-id order (default: the dataset's)")
	out := fl.String("out", "", "SavedModel `directory` to create (must not exist or be empty)")
	optimize := fl.Bool("optimize", false, "write an inference-only model: weights frozen into constants, batch norm folded into the convolutions (it cannot be trained further)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, `Usage: export (-model PATH [-best|-latest] | -weights FILE_OR_NAME [-fresh-head]) [-config FILE] [-set key=value]... [-optimize] -out DIR

Writes a trained model as a TensorFlow SavedModel, for cmd/predict, cmd/eval or any TensorFlow runtime.

The SavedModel has signatures serving_default (images float32 [N,S,S,3], 0..255) and predict_jpeg
(encoded images), and assets/labels.txt and assets/metadata.json (input size, resize, the training
configuration with its dataset, the run's metrics). PATH is a run directory, a checkpoint directory
or a variables prefix. Of a run directory it exports the checkpoint the run selected and evaluated
itself (summary.json's checkpoint; before the run finished, its best validation checkpoint so far,
else its latest), as cmd/eval evaluates; -best takes the best by validation top-1, -latest the latest.
-checkpoint is an alias of -model. With -optimize the weights are frozen into the graph as constants and
every batch norm after a convolution is folded into its weights and a bias: the same predictions
(within 1e-5 relative) from a smaller graph with no variables/ checkpoint, loadable by cmd/serve,
cmd/predict and Python's tf.saved_model.load.

Examples:
  go run ./cmd/export -model runs/demo -out runs/demo/export
  go run ./cmd/export -model runs/csca_cub -latest -out export/csca_cub-latest
  go run ./cmd/export -config configs/csca_cub.yaml -weights resnet50.safetensors -out export/r50
  go run ./cmd/export -model runs/demo -optimize -out runs/demo/export-optimized

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	model, err := modelFlag(model, checkpoint)
	if err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return exitUsage
	}
	pick, err := pf.Pick()
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "export: %v\n", err)
		return exitUsage
	case fl.NArg() > 0:
		fmt.Fprintf(stderr, "export: unexpected arguments %q (see -h)\n", fl.Args())
		return exitUsage
	case (model == "") == (*weights == ""):
		fmt.Fprintln(stderr, "export: give exactly one of -model and -weights (see -h)")
		return exitUsage
	case *weights != "" && pick != train.PickSelected:
		fmt.Fprintf(stderr, "export: -%s chooses among the checkpoints of a run directory (-model); it does not go with -weights\n", pick)
		return exitUsage
	case *out == "":
		fmt.Fprintln(stderr, "export: -out DIR is required")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *freshHead && *weights == "" {
		fmt.Fprintln(stderr, "export: -fresh-head goes with -weights")
		return exitUsage
	}
	if err := export(ctx, &cf, model, pick, *weights, *freshHead, *labelsFile, *out, *optimize, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return exitFailed
	}
	return exitOK
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

func export(ctx context.Context, cf *train.ConfigFlags, model string, pick train.Pick, weightsFile string, freshHead bool, labelsFile, out string, optimize bool, stdout, stderr io.Writer) error {
	var runDir, prefix string
	var summary map[string]any
	if model != "" {
		ckptDir, p, why, err := train.PickCheckpoint(model, pick)
		if err != nil {
			return err
		}
		if why != "" {
			fmt.Fprintf(stderr, "export: %s\n", why)
		}
		prefix = p
		if dir := train.RunDirOf(ckptDir); dir != "" && fileExists(filepath.Join(dir, "config.yaml")) {
			runDir = dir
		}
		if cf.Path == "" && runDir != "" {
			cf.Path = filepath.Join(runDir, "config.yaml")
		}
		if runDir != "" {
			if summary, err = readSummary(runDir); err != nil {
				return err
			}
		}
		if name, ok := summary["checkpoint"].(string); ok && filepath.Base(name) != filepath.Base(ckptDir) {
			fmt.Fprintf(stderr, "export: the run's summary.json evaluated %s, not %s: its metrics are left out\n", filepath.Base(name), filepath.Base(ckptDir))
			summary = map[string]any{"num_classes": summary["num_classes"]}
		}
	}
	load := cf.Load
	if weightsFile != "" && labelsFile != "" {
		// The labels name the classes and the file holds the model: no dataset is read.
		load = func(bool) (*train.Config, error) { return cf.LoadModel() }
	}
	cfg, err := load(false)
	if err != nil {
		return err
	}
	if weightsFile != "" {
		path, _, err := hub.Resolve(weightsFile, "")
		if err != nil {
			return err
		}
		weightsFile = path
	}
	labels, err := classNames(ctx, cfg, labelsFile, summary, stderr)
	if err != nil {
		return err
	}
	resolved, err := configJSON(cfg)
	if err != nil {
		return err
	}
	spec := exported.Spec{
		Net:        cfg.NetConfig(len(labels)),
		Preprocess: exported.Preprocess{ResizeSize: cfg.Data.ResolvedResize(), ImageSize: cfg.Data.ImageSize},
		Labels:     labels,
		Dataset:    datasetName(cfg, weightsFile != "" && labelsFile != ""),
		Config:     resolved,
		Metrics:    metrics(summary),
		Optimize:   optimize,
	}
	if prefix != "" {
		if err := train.CheckArchitecture(filepath.Dir(prefix), spec.Net); err != nil {
			return err
		}
	}
	sc := train.SessionConfig(cfg)
	spec.Session = &sc
	var w exported.Weights
	source := prefix
	if prefix != "" {
		w = exported.FromCheckpoint(prefix)
	} else {
		source = weightsFile
		opt := nets.ImportOptions{Partial: !cfg.Model.StrictImport, KeepClassifier: !freshHead}
		w = func(_ context.Context, sess *tf.Session, g *ops.Graph) error {
			rep, err := nets.Import(sess, g, weightsFile, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "export: %s\n", rep)
			return nil
		}
	}
	if err := exported.Export(ctx, out, spec, w); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s-resnet%d (%d classes, input %d, resize %d) from %s to %s\n",
		spec.Net.Attention, spec.Net.Depth, len(labels), spec.Preprocess.ImageSize, spec.Preprocess.ResizeSize, source, out)
	return nil
}

// classNames are the model's labels: from the labels file, else the dataset's class names, else
// numbered. The count must agree with model.num_classes and the run's summary when they give one.
func classNames(ctx context.Context, cfg *train.Config, labelsFile string, summary map[string]any, stderr io.Writer) ([]string, error) {
	want := cfg.Model.NumClasses
	if n, ok := summary["num_classes"].(float64); ok && want == 0 {
		want = int(n)
	}
	var labels []string
	switch {
	case labelsFile != "":
		f, err := os.Open(labelsFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				labels = append(labels, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", labelsFile, err)
		}
	default:
		splits, err := train.IndexData(ctx, cfg, false)
		if err == nil && splits.Generated {
			labels = splits.Classes
		} else if want == 0 {
			if err == nil {
				err = errors.New("not generated yet")
			}
			return nil, fmt.Errorf("number of classes unknown: set model.num_classes or give -labels (dataset: %v)", err)
		} else {
			fmt.Fprintf(stderr, "export: dataset %s not readable (%v): labels will be class_0..class_%d; use -labels for names\n", cfg.Data.Root, err, want-1)
			for k := range want {
				labels = append(labels, fmt.Sprintf("class_%d", k))
			}
		}
	}
	if want != 0 && len(labels) != want {
		return nil, fmt.Errorf("%d class names for a model with %d classes", len(labels), want)
	}
	return labels, nil
}

// configJSON is the resolved configuration with its YAML key names, as JSON, with data.resize_size
// resolved too: the record says which resize the model was trained and evaluated with, not a rule.
func configJSON(cfg *train.Config) (json.RawMessage, error) {
	c := *cfg
	c.Data.ResizeSize = cfg.Data.ResolvedResize()
	y, err := yaml.Marshal(&c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(y, &m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// metricKeys are the entries of summary.json that metadata.json keeps as metrics.
var metricKeys = []string{"test_top1", "test_top5", "test_mean_class_acc", "val_top1", "epochs", "best_epoch",
	"params", "images_per_second", "train_seconds", "wall_seconds"}

// metrics are the run's results from its summary.json.
func metrics(summary map[string]any) map[string]float64 {
	out := map[string]float64{}
	for _, k := range metricKeys {
		if f, ok := summary[k].(float64); ok {
			out[k] = f
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// readSummary reads RUN/summary.json; a run without one (unfinished) gives nil.
func readSummary(runDir string) (map[string]any, error) {
	path := filepath.Join(runDir, "summary.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// datasetName is the metadata's dataset: none for pretrained weights exported with their own labels
// (no dataset is read, and the configuration's data section may be the defaults').
func datasetName(cfg *train.Config, noData bool) string {
	if noData {
		return ""
	}
	return cfg.Data.Format
}
