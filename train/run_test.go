package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runTiny(t *testing.T, cfg *Config, dir string, mod func(*Options)) (*Summary, error) {
	t.Helper()
	var log bytes.Buffer
	opt := Options{RunDir: dir, Build: tinyNet, Data: tinyData(cfg), Log: &log}
	if mod != nil {
		mod(&opt)
	}
	s, err := Run(context.Background(), cfg, opt)
	if testing.Verbose() {
		t.Logf("log of %s:\n%s", dir, log.String())
	}
	return s, err
}

func TestRunLearnsAndWritesRunDirectory(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	dir := filepath.Join(t.TempDir(), "run")
	s, err := runTiny(t, cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.TestTop1 < 0.5 { // chance is 0.25
		t.Errorf("test top-1 %.3f after %d epochs, want well above chance (0.25)", s.TestTop1, s.Epochs)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "metrics.csv", "summary.json", "confusion_test.csv", "per_class_test.csv", "checkpoints/checkpoint.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if ev, _ := filepath.Glob(filepath.Join(dir, "events", "events.out.tfevents.*")); len(ev) != 1 {
		t.Errorf("event files %v, want one", ev)
	} else if st, err := os.Stat(ev[0]); err != nil || st.Size() < 1000 { // scalars and CAM images
		t.Errorf("event file %s is nearly empty (%v)", ev[0], err)
	}
	var sum map[string]any
	text, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(text, &sum); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"num_classes", "test_top1", "test_top5", "test_mean_class_acc", "val_top1", "epochs", "wall_seconds",
		"images_per_second", "attention", "dataset", "seed", "selection", "depth", "image_size", "params"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary.json lacks %s", k)
		}
	}
	if sum["selection"] != "best_val" || !strings.Contains(sum["selection_note"].(string), "validation") {
		t.Errorf("selection %v (%v), want best_val with a note", sum["selection"], sum["selection_note"])
	}
	lines := strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "metrics.jsonl")))), "\n")
	if len(lines) != cfg.Train.Epochs {
		t.Fatalf("metrics.jsonl has %d lines, want %d", len(lines), cfg.Train.Epochs)
	}
	csvLines := strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "metrics.csv")))), "\n")
	if len(csvLines) != cfg.Train.Epochs+1 {
		t.Fatalf("metrics.csv has %d lines, want header + %d", len(csvLines), cfg.Train.Epochs)
	}
	var last EpochMetrics
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.TestTop1 == nil || *last.TestTop1 != s.TestTop1 || last.ValTop1 == nil {
		t.Errorf("last metrics line %+v lacks the test or validation result", last)
	}

	// The run directory is not overwritten without -resume or -force.
	_, err = runTiny(t, cfg, dir, nil)
	if err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Errorf("second run in the same directory: err = %v, want a refusal naming -resume", err)
	}
	if _, err := runTiny(t, cfg, dir, func(o *Options) { o.Force = true; o.StopAfter = 1 }); err == nil {
		t.Error("forced run stopped after one step returned no error")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// finalState reads what must be equal between two runs: the latest checkpoint's variables (the bytes of
// the tensor bundle) and state without timings, and the metrics without timings.
func finalState(t *testing.T, dir string) (weights []byte, st State, metrics []EpochMetrics, sum Summary) {
	t.Helper()
	ck, prefix, err := ResolveCheckpoint(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	weights = mustRead(t, prefix+".data-00000-of-00001")
	s, err := ReadState(ck)
	if err != nil {
		t.Fatal(err)
	}
	st = *s
	st.WallSeconds, st.TrainSeconds = 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "metrics.jsonl")))), "\n") {
		var m EpochMetrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		m.ImagesPerSecond, m.EpochSeconds, m.WallSeconds = 0, 0, 0
		metrics = append(metrics, m)
	}
	for i := range st.History {
		st.History[i].ImagesPerSecond, st.History[i].EpochSeconds, st.History[i].WallSeconds = 0, 0, 0
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "summary.json")), &sum); err != nil {
		t.Fatal(err)
	}
	sum.WallSeconds, sum.TrainSeconds, sum.ImagesPerSecond, sum.Checkpoint = 0, 0, 0, ""
	return
}

// TestResumeEqualsUninterrupted stops a run mid-epoch and again at an epoch boundary, resumes it each
// time, and requires the same final weights (bit for bit), optimiser state and metrics as a run that
// was never interrupted.
func TestResumeEqualsUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three small runs")
	}
	for _, optimizer := range []string{"sgd", "adamw"} {
		t.Run(optimizer, func(t *testing.T) {
			cfg := tinyConfig(t.TempDir())
			cfg.Train.Optimizer = optimizer
			cfg.Train.Nesterov = true
			cfg.Train.ClipGradNorm = 1
			cfg.Train.LR = 0.01
			cfg.Checkpoint.Keep = 1
			whole := filepath.Join(t.TempDir(), "whole")
			if _, err := runTiny(t, cfg, whole, nil); err != nil {
				t.Fatal(err)
			}
			parts := filepath.Join(t.TempDir(), "parts")
			spe := len(tinyData(cfg).Train) / cfg.Train.BatchSize
			stops := []int64{int64(spe) + 2, int64(2 * spe)} // mid-epoch 2, end of epoch 2
			var intr *Interrupted
			_, err := runTiny(t, cfg, parts, func(o *Options) { o.StopAfter = stops[0] })
			if !errors.As(err, &intr) || intr.Step != stops[0] || !strings.Contains(err.Error(), "-resume") {
				t.Fatalf("first part: err = %v, want *Interrupted at step %d with a resume hint", err, stops[0])
			}
			if _, err := runTiny(t, cfg, parts, func(o *Options) { o.Resume = true; o.StopAfter = stops[1] }); !errors.As(err, &intr) || intr.Epoch != 2 {
				t.Fatalf("second part: err = %v, want *Interrupted after epoch 2", err)
			}
			if _, err := runTiny(t, cfg, parts, func(o *Options) { o.Resume = true }); err != nil {
				t.Fatal(err)
			}
			w1, s1, m1, sum1 := finalState(t, whole)
			w2, s2, m2, sum2 := finalState(t, parts)
			if !bytes.Equal(w1, w2) {
				t.Error("final weights differ between the interrupted and the uninterrupted run")
			}
			if !reflect.DeepEqual(s1, s2) {
				t.Errorf("final state differs:\n%+v\n%+v", s1, s2)
			}
			if !reflect.DeepEqual(m1, m2) {
				t.Errorf("metrics differ:\n%+v\n%+v", m1, m2)
			}
			if !reflect.DeepEqual(sum1, sum2) {
				t.Errorf("summaries differ:\n%+v\n%+v", sum1, sum2)
			}
		})
	}
}

// TestDeterministicRunsAgree trains twice with the same seed: identical metrics and weights.
func TestDeterministicRunsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small runs")
	}
	cfg := tinyConfig(t.TempDir())
	cfg.Train.Epochs = 2
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if _, err := runTiny(t, cfg, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	w1, _, m1, s1 := finalState(t, a)
	w2, _, m2, s2 := finalState(t, b)
	if !bytes.Equal(w1, w2) || !reflect.DeepEqual(m1, m2) || !reflect.DeepEqual(s1, s2) {
		t.Errorf("two runs with seed %d differ:\n%+v\n%+v", cfg.Train.Seed, m1, m2)
	}
}

var _ = io.EOF

func runNets(t *testing.T, cfg *Config, dir string) (*Summary, error) {
	t.Helper()
	var log bytes.Buffer
	s, err := Run(context.Background(), cfg, Options{RunDir: dir, Data: tinyData(cfg), Log: &log})
	if testing.Verbose() {
		t.Logf("log of %s:\n%s", dir, log.String())
	}
	return s, err
}
