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
