package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBadConfigs runs cmd/train on malformed configurations and command lines: each must exit with a
// non-zero status and a message naming the key, the value and what is wanted, without a panic.
func TestBadConfigs(t *testing.T) {
	bin := command(t, "train")
	root := dataset(t)
	tmp := t.TempDir()
	base := tinyConfig(root, 2)
	// edit replaces old (which must occur in the base configuration) by new.
	edit := func(pairs ...string) string {
		s := base
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("the base configuration has no %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	missing := filepath.Join(tmp, "missing")
	empty := filepath.Join(tmp, "empty")
	notRun := filepath.Join(tmp, "not-a-run")
	for _, d := range []string{empty, notRun} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(notRun, "notes.txt"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		yaml string   // the configuration file's text; "" for none
		args []string // more arguments (the file comes first as -config FILE)
		env  []string
		code int
		want []string // substrings of the output
	}{
		// Syntax and structure.
		{name: "not YAML", yaml: "model: [csca\ndata: {", code: 2, want: []string{"not valid YAML"}},
		{name: "binary garbage", yaml: "\x00\x01\x02\xff\xfe", code: 2, want: []string{"not valid YAML"}},
		{name: "list document", yaml: "- model\n- data\n", code: 2, want: []string{"not valid YAML"}},
		{name: "duplicate key", yaml: edit("  epochs: 2\n", "  epochs: 2\n  epochs: 3\n"), code: 2, want: []string{"not valid YAML", `"epochs" already defined`}},
		{name: "empty file", yaml: " \n", code: 2, want: []string{"data.root: missing: want the dataset directory"}},
		{name: "unknown key", yaml: edit("  epochs: 2", "  epoch: 2"), code: 2, want: []string{"train.epoch: unknown key (did you mean train.epochs?)"}},
		{name: "unknown section", yaml: base + "optimiser:\n  name: sgd\n", code: 2, want: []string{"optimiser.name: unknown key"}},
		{name: "section as a value", yaml: edit("log:\n  every_steps: 1\n  cam_images: 2\n", "log: verbose\n"), code: 2, want: []string{`log: "verbose": want a section of keys (log.*)`}},
		{name: "value as a section", yaml: edit("  depth: 18", "  depth:\n    layers: 18"), code: 2, want: []string{"model.depth.layers: unknown key"}},

		// Wrong types.
		{name: "string for int", yaml: edit("  epochs: 2", "  epochs: ten"), code: 2, want: []string{`train.epochs: "ten"`, "want an integer"}},
		{name: "fraction for int", yaml: edit("  batch_size: 4", "  batch_size: 2.5"), code: 2, want: []string{"train.batch_size: 2.5", "want an integer"}},
		{name: "string for bool", yaml: edit("  deterministic: true", "  deterministic: sometimes"), code: 2, want: []string{`train.deterministic: "sometimes"`, "want true or false"}},
		{name: "string for float", yaml: edit("  warmup_epochs: 0.5", "  warmup_epochs: half"), code: 2, want: []string{`train.warmup_epochs: "half"`, "want a number"}},
		{name: "list for string", yaml: edit("  attention: csca", "  attention: [ca, sa]"), code: 2, want: []string{"model.attention", "want a string"}},
		{name: "strings in a number list", yaml: edit("  workers: 2", "  workers: 2\n  color_jitter: [a, b, c, d]"), code: 2, want: []string{"data.color_jitter", "item 1: want a number"}},
		{name: "map in an int list", yaml: edit("  attention: csca", "  attention: csca\n  attention_stages: [{stage: 1}]"), code: 2, want: []string{"model.attention_stages", "item 1: want an integer"}},

		// Values out of range.
		{name: "unknown variant", yaml: edit("  attention: csca", "  attention: transformer"), code: 2, want: []string{`model.attention: "transformer": want one of none, fcn, ca, sa, csca`}},
		{name: "unknown depth", yaml: edit("  depth: 18", "  depth: 20"), code: 2, want: []string{"model.depth: 20: want 18, 34, 50 or 101"}},
		{name: "unknown dataset format", yaml: edit("  format: synthetic", "  format: imagenet"), code: 2, want: []string{`data.format: "imagenet": want one of cub, dogs, cars, folder, synthetic`}},
		{name: "unknown optimizer", yaml: edit("  seed: 7", "  seed: 7\n  optimizer: adam"), code: 2, want: []string{`train.optimizer: "adam": want one of sgd, adamw`}},
		{name: "zero epochs", yaml: edit("  epochs: 2", "  epochs: 0"), code: 2, want: []string{"train.epochs: 0: want at least 1"}},
		{name: "negative batch size", yaml: edit("  batch_size: 4", "  batch_size: -4"), code: 2, want: []string{"train.batch_size: -4: want at least 1"}},
		{name: "zero image size", yaml: edit("  image_size: 32\n  resize", "  image_size: 0\n  resize"), code: 2, want: []string{"data.image_size: 0: want 16 to 4096 pixels"}},
		{name: "zero width", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 0"), code: 2, want: []string{"model.width_multiplier: 0: want a value in (0, 16]"}},
		{name: "negative learning rate", yaml: edit("  seed: 7", "  seed: 7\n  lr: -0.1"), code: 2, want: []string{"train.lr: -0.1: want a value in (0, 100)"}},
		{name: "dropout of one", yaml: edit("  attention: csca", "  attention: csca\n  dropout: 1"), code: 2, want: []string{"model.dropout: 1: want a rate in [0, 1)"}},
		{name: "no checkpoints kept", yaml: edit("  keep: 2", "  keep: 0"), code: 2, want: []string{"checkpoint.keep: 0: want at least 1"}},
		{name: "negative workers", yaml: edit("  workers: 2", "  workers: -1"), code: 2, want: []string{"data.workers: -1: want 0 (number of CPUs) or more"}},
		{name: "three jitter values", yaml: edit("  workers: 2", "  workers: 2\n  color_jitter: [0.4, 0.4, 0.4]"), code: 2, want: []string{"data.color_jitter: [0.4 0.4 0.4]: want 4 values"}},
		{name: "attention stage 5", yaml: edit("  attention: csca", "  attention: csca\n  attention_stages: [3, 5]"), code: 2, want: []string{"model.attention_stages: [3 5]: want distinct stages among 1, 2, 3, 4"}},
		{name: "one synthetic class", yaml: edit("    classes: 3", "    classes: 1"), code: 2, want: []string{"data.synthetic.classes: 1: want 2 to"}},
		{name: "several problems at once", yaml: edit("  epochs: 2", "  epochs: 0", "  batch_size: 4", "  batch_size: 0", "  depth: 18", "  depth: 19"),
			code: 2, want: []string{"3 problems", "train.epochs: 0", "train.batch_size: 0", "model.depth: 19"}},

		// Contradictory options.
		{name: "best_val without a validation split", yaml: edit("  val_fraction: 0.2", "  val_fraction: 0"), code: 2, want: []string{`train.selection: "best_val": needs data.val_fraction > 0 (or use last)`}},
		{name: "nesterov without momentum", yaml: edit("  seed: 7", "  seed: 7\n  nesterov: true\n  momentum: 0"), code: 2, want: []string{"train.nesterov: true: wants train.momentum > 0"}},
		{name: "pretrained at a quarter width", yaml: edit("  depth: 18", "  depth: 18\n  pretrained: "+filepath.Join(tmp, "resnet18.safetensors")), code: 2, want: []string{"model.width_multiplier: 0.25: want 1 with model.pretrained"}},
		{name: "resize smaller than the crop", yaml: edit("  resize_size: 36", "  resize_size: 20"), code: 2, want: []string{"data.resize_size: 20: want 0 or at least data.image_size (32)"}},
		{name: "negative warm-up", yaml: edit("  warmup_epochs: 0.5", "  warmup_epochs: -1"), code: 2, want: []string{"train.warmup_epochs: -1: want 0 or more"}},
		{name: "decreasing milestones", yaml: edit("  seed: 7", "  seed: 7\n  schedule: step\n  milestones: [30, 10]"), code: 2, want: []string{"train.milestones: [30 10]: want increasing positive epochs"}},
		{name: "num_classes against the dataset", yaml: edit("  depth: 18", "  depth: 18\n  num_classes: 5"), args: []string{"-out", filepath.Join(tmp, "run-classes")},
			code: 1, want: []string{"model.num_classes 5: the dataset synthetic dataset " + root + " has 3 classes"}},
		{name: "batch larger than the training split", yaml: edit("  batch_size: 4", "  batch_size: 64"), args: []string{"-out", filepath.Join(tmp, "run-batch")},
			code: 1, want: []string{"has 30 images, fewer than train.batch_size (64)"}},

		// Missing and wrong files.
		{name: "missing config file", args: []string{"-config", missing + ".yaml"}, code: 2, want: []string{"read config", missing + ".yaml", "no such file or directory"}},
		{name: "config is a directory", args: []string{"-config", empty}, code: 2, want: []string{"read config", empty, "is a directory"}},
		{name: "missing data root", yaml: edit("  format: synthetic\n  root: "+root, "  format: cub\n  root: "+missing), code: 2, want: []string{`data.root: "` + missing + `": directory not found`}},
		{name: "empty data root", yaml: edit("  root: "+root, `  root: ""`), code: 2, want: []string{"data.root: missing: want the dataset directory"}},
		{name: "data root is not a dataset", yaml: edit("  format: synthetic\n  root: "+root, "  format: cub\n  root: "+empty), args: []string{"-out", filepath.Join(tmp, "run-empty")},
			code: 1, want: []string{"data.root: cub: missing " + filepath.Join(empty, "classes.txt")}},
		{name: "missing pretrained weights", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 1\n  pretrained: "+missing+".safetensors"), code: 2, want: []string{`model.pretrained: "` + missing + `.safetensors": file not found`}},
		{name: "pretrained not safetensors", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 1\n  pretrained: resnet18.pth"), code: 2, want: []string{`model.pretrained: "resnet18.pth": want a .safetensors file`}},

		// Environment, -set and flags.
		{name: "environment of the wrong type", yaml: base, env: []string{"FINEGRAIN_TRAIN_EPOCHS=many"}, code: 2, want: []string{`train.epochs: "many" (from $FINEGRAIN_TRAIN_EPOCHS): want an integer`}},
		{name: "-set unknown key", yaml: base, args: []string{"-set", "train.epoch=3"}, code: 2, want: []string{"-set train.epoch: unknown key (did you mean train.epochs?)"}},
		{name: "-set without a value", yaml: base, args: []string{"-set", "train.epochs"}, code: 2, want: []string{`want key=value, got "train.epochs"`}},
		{name: "-set of the wrong type", yaml: base, args: []string{"-set", "data.hflip=[1]"}, code: 2, want: []string{`data.hflip: "[1]" (from -set): want true or false`}},
		{name: "unknown flag", yaml: base, args: []string{"-epochs", "3"}, code: 2, want: []string{"flag provided but not defined: -epochs"}},
		{name: "no config", code: 2, want: []string{"-config FILE is required"}},
		{name: "resume and force", yaml: base, args: []string{"-resume", "-force"}, code: 2, want: []string{"-resume and -force exclude each other"}},
		{name: "resume without a run", args: []string{"-resume", "-out", empty}, code: 2, want: []string{"-resume: " + empty + " is not a run directory"}},
		{name: "existing directory", yaml: base, args: []string{"-out", notRun}, code: 1, want: []string{"run directory " + notRun + " exists: use -resume to continue it, -force"}},
		{name: "force on a foreign directory", yaml: base, args: []string{"-out", notRun, "-force"}, code: 1, want: []string{"-force: " + notRun + " does not look like a run directory", "not deleting it"}},
		{name: "output under a file", yaml: base, args: []string{"-out", filepath.Join(notRun, "notes.txt", "run")}, code: 1, want: []string{filepath.Join(notRun, "notes.txt"), "not a directory"}},
	}
	t.Run("cases", func(t *testing.T) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				var args []string
				if c.yaml != "" {
					args = append(args, "-config", writeConfig(t, tmp, fmt.Sprintf("case-%02d.yaml", i), c.yaml))
				}
				args = append(args, c.args...)
				if !slices.Contains(args, "-out") {
					args = append(args, "-out", filepath.Join(tmp, fmt.Sprintf("run-%02d", i)))
				}
				code, out := runCmd(t, bin, args, childEnv(c.env...))
				noPanic(t, out)
				if code != c.code {
					t.Errorf("exit status %d, want %d; output:\n%s", code, c.code, out)
				}
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				if testing.Verbose() {
					t.Logf("%s", strings.TrimSpace(out))
				}
			})
		}
	})
	if _, err := os.ReadFile(filepath.Join(notRun, "notes.txt")); err != nil {
		t.Errorf("a refused run deleted a directory it did not make: %v", err)
	}
}
