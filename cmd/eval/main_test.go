package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/train"
)

// TestEvalReproducesTheRunsTestResult trains a tiny model on a tiny synthetic dataset, then evaluates
// the run directory: the selected checkpoint on the test split must give exactly the run's summary.
func TestEvalReproducesTheRunsTestResult(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	dir := t.TempDir()
	cfg := train.Default()
	cfg.Model.Attention, cfg.Model.Depth, cfg.Model.WidthMultiplier = "ca", 18, 0.25
	cfg.Data.Format, cfg.Data.Root = "synthetic", filepath.Join(dir, "synth")
	cfg.Data.ImageSize, cfg.Data.ResizeSize, cfg.Data.ValFraction = 32, 36, 0.25
	cfg.Data.Synthetic.Classes, cfg.Data.Synthetic.PerClass, cfg.Data.Synthetic.ImageSize = 3, 16, 40
	cfg.Train.Epochs, cfg.Train.BatchSize, cfg.Train.LR, cfg.Train.WarmupEpochs = 2, 4, 0.01, 0
	cfg.Runtime.IntraOpThreads = 2
	runDir := filepath.Join(dir, "run")
	sum, err := train.Run(context.Background(), cfg, train.Options{RunDir: runDir, Log: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-model", runDir, "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if res.Top1 != sum.TestTop1 || res.Top5 != sum.TestTop5 || res.MeanClassAcc != sum.TestMeanClassAcc || res.Images != int64(sum.TestImages) {
		t.Errorf("eval %+v, run summary top1 %v top5 %v mean-class %v on %d images", res, sum.TestTop1, sum.TestTop5, sum.TestMeanClassAcc, sum.TestImages)
	}
	if res.Out != filepath.Join(runDir, "eval-test") || len(res.PerClass) != 3 {
		t.Errorf("out %s, per-class %v", res.Out, res.PerClass)
	}
	f, err := os.Open(filepath.Join(res.Out, "confusion.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || len(rows[0]) != 4 {
		t.Fatalf("confusion.csv is %d×%d, want 4×4 (header + 3 classes)", len(rows), len(rows[0]))
	}
	// The validation split is the one training used.
	stdout.Reset()
	if code := run(context.Background(), []string{"-model", runDir, "-split", "val", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("val: exit %d: %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || sum.ValTop1 == nil || res.Top1 != *sum.ValTop1 {
		t.Errorf("val top1 %v, run's %v (%v)", res.Top1, sum.ValTop1, err)
	}
	if code := run(context.Background(), []string{"-model", filepath.Join(dir, "nothing")}, &stdout, &stderr); code != 1 {
		t.Errorf("a missing model: exit %d, want 1", code)
	}
}

// TestEvalSavedModelReadsItsDataset: a SavedModel is evaluated, without -config, on the dataset its
// assets/metadata.json records, whatever else the recorded configuration names (here a pretrained file
// that does not exist where it is evaluated).
func TestEvalSavedModelReadsItsDataset(t *testing.T) {
	dir := t.TempDir()
	cfg := train.Default()
	cfg.Model.Attention, cfg.Model.Depth, cfg.Model.WidthMultiplier = "none", 18, 0.125
	cfg.Data.ImageSize, cfg.Data.ResizeSize = 32, 0
	net := cfg.NetConfig(3)
	recorded, err := json.Marshal(map[string]any{
		"model": map[string]any{"attention": "none", "pretrained": filepath.Join(dir, "gone.safetensors")},
		"data": map[string]any{"format": "synthetic", "root": filepath.Join(dir, "synth"), "image_size": 32, "resize_size": 0,
			"val_fraction": 0.25, "workers": 3,
			"synthetic": map[string]any{"classes": 3, "per_class": 8, "train_fraction": 0.5, "image_size": 40, "difficulty": 0.5, "seed": 7}},
		"train": map[string]any{"seed": 1, "epochs": 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model")
	spec := exported.Spec{Net: net, Preprocess: exported.Preprocess{ImageSize: 32, ResizeSize: 36}, Dataset: "synthetic", Config: recorded}
	if err := exported.Export(context.Background(), model, spec, nil); err != nil {
		t.Fatal(err)
	}
	// A model whose dataset is no longer where it was trained.
	moved := filepath.Join(dir, "moved")
	spec.Dataset, spec.Config = "cub", json.RawMessage(`{"data": {"format": "cub", "root": "`+filepath.Join(dir, "gone")+`"}}`)
	if err := exported.Export(context.Background(), moved, spec, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		model  string // "" = model
		args   []string
		code   int
		images int64  // with code 0
		stderr string // with another code
	}{
		{name: "the recorded dataset", args: nil, images: 3 * 4},
		{name: "the recorded validation split", args: []string{"-split", "val"}, images: 3 * 1},
		{name: "-set over the recorded dataset", args: []string{"-set", "data.synthetic.per_class=6", "-set", "data.root=" + filepath.Join(dir, "synth6")}, images: 3 * 3},
		{name: "the recorded dataset moved", model: moved, code: 1, stderr: "cannot be read here:\n  - data.root: \"" + filepath.Join(dir, "gone") + "\": directory not found\ngive its current place with -set data.root=DIR"},
		{name: "-best of a SavedModel", args: []string{"-best"}, code: 1, stderr: "-best chooses among the checkpoints of a run directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			m := model
			if tc.model != "" {
				m = tc.model
			}
			args := append([]string{"-model", m, "-json", "-out", filepath.Join(t.TempDir(), "eval")}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, stderr.String())
			}
			if code != 0 {
				if !strings.Contains(stderr.String(), tc.stderr) {
					t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
				}
				return
			}
			var res Result
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			if res.Images != tc.images || !strings.Contains(res.Dataset, "synthetic dataset "+filepath.Join(dir, "synth")) {
				t.Errorf("evaluated %d images of %s, want %d of the recorded dataset", res.Images, res.Dataset, tc.images)
			}
		})
	}
}

func TestDatasetSets(t *testing.T) {
	recorded := `{"model": {"attention": "ca", "pretrained": "w.safetensors"},
		"data": {"format": "folder", "root": "data/my \"birds\"", "workers": 8, "color_jitter": [0.4, 0.1, 0, 0.2], "synthetic": {"seed": 3}},
		"train": {"seed": 9007199254740993, "lr": 0.1}}`
	env := map[string]string{"FINEGRAIN_DATA_FORMAT": "cub"}
	got, err := datasetSets(json.RawMessage(recorded), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`data.color_jitter=[0.4,0.1,0,0.2]`, `data.root=data/my "birds"`, `data.synthetic.seed=3`, `train.seed=9007199254740993`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sets\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The sets are what Load reads: the recorded values come back.
	cfg, err := train.Load(train.LoadOptions{Sets: got, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Data.Root != `data/my "birds"` || cfg.Train.Seed != 9007199254740993 || cfg.Data.Synthetic.Seed != 3 {
		t.Errorf("loaded root %q seed %d synthetic seed %d", cfg.Data.Root, cfg.Train.Seed, cfg.Data.Synthetic.Seed)
	}
	if got, err := datasetSets(nil, os.Getenv); err != nil || got != nil {
		t.Errorf("no configuration: %q, %v", got, err)
	}
	if _, err := datasetSets(json.RawMessage(`{"data": [1]}`), os.Getenv); err == nil {
		t.Error("a malformed configuration is accepted")
	}
}

// TestEvalFlags: -checkpoint is an alias of -model; -best and -latest exclude each other.
func TestEvalFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-model", missing}, 1, "no checkpoint at " + missing},
		{[]string{"-checkpoint", missing}, 1, "no checkpoint at " + missing},
		{[]string{"-model", missing, "-checkpoint", missing}, 1, "no checkpoint at " + missing},
		{[]string{"-model", missing, "-checkpoint", "other"}, 2, "-checkpoint is an alias of -model"},
		{[]string{"-model", missing, "-best", "-latest"}, 2, "-best and -latest exclude each other"},
		{nil, 2, "-model PATH is required"},
		{[]string{"-model", missing, "stray"}, 2, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("eval %q: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, stderr.String(), tc.stderr)
		}
	}
}
