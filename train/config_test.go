package train

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCompletesPartialConfigFromDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "x.yaml", "model:\n  attention: ca\ndata:\n  root: "+dir+"\ntrain:\n  epochs: 7\n  lr: 1e-3\n")
	cfg, err := Load(LoadOptions{Path: path, CheckPaths: true})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Model.Attention = "ca"
	want.Data.Root = dir
	want.Train.Epochs = 7
	want.Train.LR = 1e-3
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("loaded %+v\nwant %+v", cfg, want)
	}
}

func TestLoadPrecedenceSetOverEnvOverFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "x.yaml", "data:\n  root: "+dir+"\ntrain:\n  epochs: 7\n  batch_size: 8\n  seed: 5\n")
	t.Setenv(EnvName("train.epochs"), "9")
	t.Setenv(EnvName("train.batch_size"), "12")
	t.Setenv(EnvName("data.color_jitter"), "[0.1, 0.2, 0.3, 0.05]")
	cfg, err := Load(LoadOptions{Path: path, Sets: []string{"train.epochs=3", "model.attention_stages=[3, 4]", "model.pretrained="}})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Train.Epochs, cfg.Train.BatchSize, cfg.Train.Seed, cfg.Model.AttentionStages, cfg.Data.ColorJitter}
	want := []any{3, 12, int64(5), []int{3, 4}, []float64{0.1, 0.2, 0.3, 0.05}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs, batch, seed, stages, jitter = %v, want %v", got, want)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		file string
		sets []string
		want []string // substrings, one problem each
	}{
		{"unknown keys", "model:\n  atention: ca\n  depth: 18\nsolver: sgd\ndata:\n  root: " + dir + "\n", nil,
			[]string{"model.atention: unknown key (did you mean model.attention?)", "solver: unknown key"}},
		{"wrong types", "train:\n  epochs: three\n  nesterov: 1\n  lr: [1]\ndata:\n  root: " + dir + "\n", nil,
			[]string{`train.epochs: "three"`, "want an integer", "train.nesterov: 1", "want true or false", "train.lr: [1]", "want a number"}},
		{"ranges", "model:\n  depth: 20\n  attention: cbam\ntrain:\n  label_smoothing: 1.5\n  batch_size: 0\ndata:\n  root: " + dir + "\n  val_fraction: 0\n", nil,
			[]string{"model.depth: 20", "model.attention: \"cbam\"", "train.label_smoothing: 1.5", "train.batch_size: 0", "train.selection: \"best_val\": needs data.val_fraction"}},
		{"missing paths", "data:\n  root: " + filepath.Join(dir, "nope") + "\nmodel:\n  pretrained: " + filepath.Join(dir, "r50.safetensors") + "\n", nil,
			[]string{"data.root: \"" + filepath.Join(dir, "nope") + "\": directory not found", "model.pretrained", "file not found"}},
		{"section as value", "model: 3\ndata:\n  root: " + dir + "\n", nil, []string{"model: 3: want a section"}},
		{"bad sets", "data:\n  root: " + dir + "\n", []string{"train.epoch=3", "train.epochs", "train.seed=x"},
			[]string{"-set train.epoch: unknown key (did you mean train.epochs?)", `-set "train.epochs": want key=value`, `train.seed: "x" (from -set): want an integer`}},
		{"no root", "model:\n  depth: 18\n", nil, []string{"data.root: missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, "c.yaml", tc.file)
			_, err := Load(LoadOptions{Path: path, Sets: tc.sets, CheckPaths: true})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if !strings.Contains(msg, "config "+path) {
				t.Errorf("error does not name the file:\n%s", msg)
			}
		})
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := Default()
	cfg.Data.Root = dir
	cfg.Model.Attention = "sa"
	cfg.Train.Milestones = []float64{2.5, 7}
	text, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(LoadOptions{Path: writeFile(t, dir, "resolved.yaml", string(text))})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip changed the config:\n%s", text)
	}
}

func TestKeyTableDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), KeyTable()) {
		t.Fatalf("configs/README.md does not contain the current key table; regenerate it with `go run ./cmd/train -keys`:\n%s", KeyTable())
	}
	for _, k := range Keys() {
		if k.Doc == "" || k.Default == "—" {
			t.Errorf("key %s lacks a description or a default", k.Name)
		}
	}
}

// Every field of nets.Config (as metadata.json names it) is a model.* configuration key.
func TestNetConfigNamesAreKeys(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys() {
		keys[k.Name] = true
	}
	b, err := json.Marshal(Default().NetConfig(10))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for name := range fields {
		if !keys["model."+name] {
			t.Errorf("nets.Config's JSON field %q is not the configuration key model.%s", name, name)
		}
	}
}
