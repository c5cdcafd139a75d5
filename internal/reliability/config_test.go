package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/train"
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
		{name: "zero epochs", yaml: edit("  epochs: 2", "  epochs: 0"), code: 2, want: []string{"train.epochs: 0: want 1 to 100000"}},
		{name: "negative batch size", yaml: edit("  batch_size: 4", "  batch_size: -4"), code: 2, want: []string{"train.batch_size: -4: want 1 to 65536"}},
		{name: "zero image size", yaml: edit("  image_size: 32\n  resize", "  image_size: 0\n  resize"), code: 2, want: []string{"data.image_size: 0: want 16 to 4096 pixels"}},
		{name: "zero width", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 0"), code: 2, want: []string{"model.width_multiplier: 0: want a value in (0, 16]"}},
		{name: "negative learning rate", yaml: edit("  seed: 7", "  seed: 7\n  lr: -0.1"), code: 2, want: []string{"train.lr: -0.1: want a value in (0, 100)"}},
		{name: "dropout of one", yaml: edit("  attention: csca", "  attention: csca\n  dropout: 1"), code: 2, want: []string{"model.dropout: 1: want a rate in [0, 1)"}},
		{name: "no checkpoints kept", yaml: edit("  keep: 2", "  keep: 0"), code: 2, want: []string{"checkpoint.keep: 0: want 1 to 100000"}},
		{name: "negative workers", yaml: edit("  workers: 2", "  workers: -1"), code: 2, want: []string{"data.workers: -1: want 0 (number of CPUs) to 1024"}},
		{name: "three jitter values", yaml: edit("  workers: 2", "  workers: 2\n  color_jitter: [0.4, 0.4, 0.4]"), code: 2, want: []string{"data.color_jitter: [0.4 0.4 0.4]: want 4 values"}},
		{name: "attention stage 5", yaml: edit("  attention: csca", "  attention: csca\n  attention_stages: [3, 5]"), code: 2, want: []string{"model.attention_stages: [3 5]: want distinct stages among 1, 2, 3, 4"}},
		{name: "one synthetic class", yaml: edit("    classes: 3", "    classes: 1"), code: 2, want: []string{"data.synthetic.classes: 1: want 2 to"}},
		{name: "several problems at once", yaml: edit("  epochs: 2", "  epochs: 0", "  batch_size: 4", "  batch_size: 0", "  depth: 18", "  depth: 19"),
			code: 2, want: []string{"3 problems", "train.epochs: 0", "train.batch_size: 0", "model.depth: 19"}},

		// Contradictory options.
		{name: "best_val without a validation split", yaml: edit("  val_fraction: 0.2", "  val_fraction: 0"), code: 2, want: []string{`train.selection: "best_val": needs data.val_fraction > 0 (or use last)`}},
		{name: "nesterov without momentum", yaml: edit("  seed: 7", "  seed: 7\n  nesterov: true\n  momentum: 0"), code: 2, want: []string{"train.nesterov: true: wants train.momentum > 0"}},
		{name: "resize smaller than the crop", yaml: edit("  resize_size: 36", "  resize_size: 20"), code: 2, want: []string{"data.resize_size: 20: want 0 or data.image_size (32) to 8192 pixels"}},
		{name: "negative warm-up", yaml: edit("  warmup_epochs: 0.5", "  warmup_epochs: -1"), code: 2, want: []string{"train.warmup_epochs: -1: want 0 to 100000"}},
		{name: "decreasing milestones", yaml: edit("  seed: 7", "  seed: 7\n  schedule: step\n  milestones: [30, 10]"), code: 2, want: []string{"train.milestones: [30 10]: want increasing positive epochs"}},
		{name: "num_classes against the dataset", yaml: edit("  depth: 18", "  depth: 18\n  num_classes: 5"), args: []string{"-out", filepath.Join(tmp, "run-classes")},
			code: 1, want: []string{"model.num_classes 5: the dataset synthetic dataset " + root + " has 3 classes"}},
		{name: "batch larger than the training split", yaml: edit("  batch_size: 4", "  batch_size: 64"), args: []string{"-out", filepath.Join(tmp, "run-batch")},
			code: 1, want: []string{"has 30 images, fewer than train.batch_size (64)"}},

		// Non-finite numbers, for every kind of float key and from every source.
		{name: "NaN warm-up", yaml: edit("  warmup_epochs: 0.5", "  warmup_epochs: .nan"), code: 2, want: []string{"train.warmup_epochs: NaN (from ", "want a finite number"}},
		{name: "infinite learning rate", yaml: edit("  seed: 7", "  seed: 7\n  lr: .inf"), code: 2, want: []string{"train.lr: +Inf (from ", "want a finite number"}},
		{name: "negative infinite rotation", yaml: edit("  workers: 2", "  workers: 2\n  rotation: -.inf"), code: 2, want: []string{"data.rotation: -Inf (from ", "want a finite number"}},
		{name: "NaN width", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: .NaN"), code: 2, want: []string{"model.width_multiplier: NaN (from ", "want a finite number"}},
		{name: "NaN written as text", yaml: edit("  seed: 7", "  seed: 7\n  clip_grad_norm: NaN"), code: 2, want: []string{`train.clip_grad_norm: "NaN" (from `, "want a finite number"}},
		{name: "overflowing float", yaml: edit("  seed: 7", "  seed: 7\n  momentum: 1e999"), code: 2, want: []string{"train.momentum: ", "want a finite number"}},
		{name: "NaN in a list", yaml: edit("  workers: 2", "  workers: 2\n  color_jitter: [0.4, .nan, 0.4, 0.1]"), code: 2, want: []string{"data.color_jitter", "item 2: want a finite number"}},
		{name: "infinite milestone", yaml: edit("  seed: 7", "  seed: 7\n  schedule: step\n  milestones: [1, .inf]"), code: 2, want: []string{"train.milestones", "item 2: want a finite number"}},
		{name: "infinite synthetic fraction", yaml: edit("    train_fraction: 0.6", "    train_fraction: .inf"), code: 2, want: []string{"data.synthetic.train_fraction: +Inf", "want a finite number"}},
		{name: "NaN from the environment", yaml: base, env: []string{"FINEGRAIN_TRAIN_LABEL_SMOOTHING=.nan"}, code: 2, want: []string{`train.label_smoothing: ".nan" (from $FINEGRAIN_TRAIN_LABEL_SMOOTHING): want a finite number`}},
		{name: "NaN text from the environment", yaml: base, env: []string{"FINEGRAIN_MODEL_DROPOUT=NaN"}, code: 2, want: []string{`model.dropout: "NaN" (from $FINEGRAIN_MODEL_DROPOUT): want a finite number`}},
		{name: "infinity from -set", yaml: base, args: []string{"-set", "data.rotation=Infinity"}, code: 2, want: []string{`data.rotation: "Infinity" (from -set): want a finite number`}},
		{name: "overflow from -set", yaml: base, args: []string{"-set", "train.gamma=-1e999"}, code: 2, want: []string{`train.gamma: "-1e999" (from -set): want a finite number`}},
		{name: "infinite list from -set", yaml: base, args: []string{"-set", "data.color_jitter=[.inf, 0.4, 0.4, 0.1]"}, code: 2, want: []string{"data.color_jitter", "(from -set): item 1: want a finite number"}},

		// One key in two places of a file, or in two letter cases.
		{name: "nested and dotted key", yaml: base + "train.epochs: 3\n", code: 2, want: []string{"train.epochs: given 2 times, at line ", "(train: epochs) and line ", "(train.epochs): keep one"}},
		{name: "key in two letter cases", yaml: base + "Train:\n  Epochs: 2\n", code: 2, want: []string{"train.epochs: given 2 times", "(train: epochs)", "(Train: Epochs)"}},
		{name: "two cases in one section", yaml: edit("  epochs: 2", "  epochs: 2\n  EPOCHS: 2"), code: 2, want: []string{"train.epochs: given 2 times", "(train: EPOCHS)"}},
		{name: "dotted section and nested key", yaml: base + "data.synthetic:\n  classes: 3\n", code: 2, want: []string{"data.synthetic.classes: given 2 times", "(data: synthetic: classes)", "(data.synthetic: classes)"}},

		// Keys without a value, and the empty stage list.
		{name: "learning rate without a value", yaml: edit("  seed: 7", "  seed: 7\n  lr:"), code: 2, want: []string{"train.lr: null (from ", "no value: give one, or leave the key out"}},
		{name: "boolean without a value", yaml: edit("  deterministic: true", "  deterministic:"), code: 2, want: []string{"train.deterministic: null (from ", "no value"}},
		{name: "empty attention stages", yaml: edit("  attention: csca", "  attention: csca\n  attention_stages: []"), code: 2,
			want: []string{"model.attention_stages: []: an empty list is ambiguous: leave the key out (or list 1, 2, 3, 4) for gates in every stage, or set model.attention: none for no gates"}},
		{name: "attention stages without a value", yaml: edit("  attention: csca", "  attention: csca\n  attention_stages:"), code: 2, want: []string{"model.attention_stages: []: an empty list is ambiguous"}},
		{name: "empty attention stages from -set", yaml: base, args: []string{"-set", "model.attention_stages=[]"}, code: 2, want: []string{"model.attention_stages: []: an empty list is ambiguous"}},

		// FINEGRAIN_* variables that are not a key's.
		{name: "section from the environment", yaml: base, env: []string{"FINEGRAIN_TRAIN=3"}, code: 2,
			want: []string{": 1 problem\n", `$FINEGRAIN_TRAIN="3": names the section train, not one key`, "e.g. $FINEGRAIN_TRAIN_EPOCHS"}},
		{name: "data section from the environment", yaml: base, env: []string{"FINEGRAIN_DATA=/data"}, code: 2, want: []string{": 1 problem\n", `$FINEGRAIN_DATA="/data": names the section data`}},
		{name: "nested section from the environment", yaml: base, env: []string{"FINEGRAIN_DATA_SYNTHETIC=1"}, code: 2, want: []string{": 1 problem\n", "$FINEGRAIN_DATA_SYNTHETIC=\"1\": names the section data.synthetic"}},
		{name: "environment typo", yaml: base, env: []string{"FINEGRAIN_TRAIN_EPOCH=7"}, code: 2, want: []string{"$FINEGRAIN_TRAIN_EPOCH: no configuration key has this environment variable (did you mean $FINEGRAIN_TRAIN_EPOCHS?)"}},
		{name: "environment typo in a word", yaml: base, env: []string{"FINEGRAIN_RUNTIME_INTRA_THREADS=4"}, code: 2, want: []string{"$FINEGRAIN_RUNTIME_INTRA_THREADS: no configuration key", "did you mean $FINEGRAIN_RUNTIME_INTRA_OP_THREADS?"}},
		{name: "environment in lower case", yaml: base, env: []string{"finegrain_train_epochs=3"}, code: 2, want: []string{"$finegrain_train_epochs: environment variable names are upper case: did you mean $FINEGRAIN_TRAIN_EPOCHS?"}},
		{name: "environment value out of range", yaml: base, env: []string{"FINEGRAIN_TRAIN_EPOCHS=0"}, code: 2, want: []string{"train.epochs: 0 (from $FINEGRAIN_TRAIN_EPOCHS): want 1 to 100000"}},
		{name: "empty data root from the environment", yaml: base, env: []string{"FINEGRAIN_DATA_ROOT="}, code: 2, want: []string{"data.root: missing (from $FINEGRAIN_DATA_ROOT): want the dataset directory"}},

		// Sizes: bounded before anything is allocated from them.
		{name: "huge evaluation batch", yaml: edit("  batch_size: 4", "  batch_size: 4\n  eval_batch_size: 1000000000"), code: 2, want: []string{"train.eval_batch_size: 1000000000: want 0 (= batch_size) to 65536"}},
		{name: "evaluation batch too many values", yaml: base, args: []string{"-set", "train.eval_batch_size=60000", "-set", "data.image_size=128", "-set", "data.resize_size=0"}, code: 2,
			want: []string{"train.eval_batch_size: 60000: a batch of 60000 images of 128×128 pixels is 2949120000 values", "lower train.eval_batch_size or data.image_size"}},
		{name: "training batch too many values", yaml: base, args: []string{"-set", "train.batch_size=64", "-set", "data.image_size=4096", "-set", "data.resize_size=0"}, code: 2, want: []string{"train.batch_size: 64: a batch of 64 images of 4096×4096 pixels"}},
		{name: "huge batch", yaml: edit("  batch_size: 4", "  batch_size: 100000"), code: 2, want: []string{"train.batch_size: 100000: want 1 to 65536"}},
		{name: "too many intra-op threads", yaml: edit("  intra_op_threads: 1", "  intra_op_threads: 100000"), code: 2, want: []string{"runtime.intra_op_threads: 100000: want 0 (number of CPUs) to 1024"}},
		{name: "too many inter-op threads", yaml: base, env: []string{"FINEGRAIN_RUNTIME_INTER_OP_THREADS=1025"}, code: 2, want: []string{"runtime.inter_op_threads: 1025 (from $FINEGRAIN_RUNTIME_INTER_OP_THREADS): want 0 (TensorFlow's choice) to 1024"}},
		{name: "too many workers", yaml: edit("  workers: 2", "  workers: 5000"), code: 2, want: []string{"data.workers: 5000: want 0 (number of CPUs) to 1024"}},
		{name: "largest int64 epochs", yaml: edit("  epochs: 2", "  epochs: 9223372036854775807"), code: 2, want: []string{"train.epochs: 9223372036854775807: want 1 to 100000"}},
		{name: "epochs beyond int64", yaml: edit("  epochs: 2", "  epochs: 1e30"), code: 2, want: []string{"train.epochs: 1e+30 (from ", "integer too large"}},
		{name: "epochs beyond uint64", yaml: base, args: []string{"-set", "train.epochs=99999999999999999999999"}, code: 2, want: []string{"train.epochs: ", "(from -set): integer too large"}},
		{name: "huge resize", yaml: edit("  resize_size: 36", "  resize_size: 100000"), code: 2, want: []string{"data.resize_size: 100000: want 0 or data.image_size (32) to 8192 pixels"}},
		{name: "huge synthetic class", yaml: edit("    per_class: 20", "    per_class: 1000000000"), code: 2, want: []string{"data.synthetic.per_class: 1000000000: want 2 to 10000"}},
		{name: "huge class count", yaml: edit("  depth: 18", "  depth: 18\n  num_classes: 10000000"), code: 2, want: []string{"model.num_classes: 10000000: want 0 (from the dataset) or a count up to 100000"}},
		{name: "huge reduction", yaml: edit("  depth: 18", "  depth: 18\n  reduction: 100000"), code: 2, want: []string{"model.reduction: 100000: want 1 to 1024"}},
		{name: "huge checkpoint count", yaml: edit("  keep: 2", "  keep: 1000000"), code: 2, want: []string{"checkpoint.keep: 1000000: want 1 to 100000"}},
		{name: "huge log interval", yaml: edit("  every_steps: 1", "  every_steps: 10000000000"), code: 2, want: []string{"log.every_steps: 10000000000: want 0 to 1073741824"}},
		{name: "huge warm-up", yaml: edit("  warmup_epochs: 0.5", "  warmup_epochs: 1e300"), code: 2, want: []string{"train.warmup_epochs: 1e+300: want 0 to 100000"}},

		// Missing and wrong files.
		{name: "missing config file", args: []string{"-config", missing + ".yaml"}, code: 2, want: []string{"read config", missing + ".yaml", "no such file or directory"}},
		{name: "config is a directory", args: []string{"-config", empty}, code: 2, want: []string{"read config", empty, "is a directory"}},
		{name: "missing data root", yaml: edit("  format: synthetic\n  root: "+root, "  format: cub\n  root: "+missing), code: 2, want: []string{`data.root: "` + missing + `": directory not found`}},
		{name: "empty data root", yaml: edit("  root: "+root, `  root: ""`), code: 2, want: []string{"data.root: missing: want the dataset directory"}},
		{name: "data root is not a dataset", yaml: edit("  format: synthetic\n  root: "+root, "  format: cub\n  root: "+empty), args: []string{"-out", filepath.Join(tmp, "run-empty")},
			code: 1, want: []string{"data.root: cub: missing " + filepath.Join(empty, "classes.txt")}},
		{name: "missing pretrained weights", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 1\n  pretrained: "+missing+".safetensors"), code: 2, want: []string{`model.pretrained: "` + missing + `.safetensors": weights file ` + missing + `.safetensors: file not found`}},
		{name: "missing .pth weights", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 1\n  pretrained: resnet18.pth"), code: 2, want: []string{`model.pretrained: "resnet18.pth": weights file resnet18.pth: file not found`}},
		{name: "pretrained neither file nor name", yaml: edit("  width_multiplier: 0.25", "  width_multiplier: 1\n  pretrained: resnet18"), code: 2, want: []string{`is neither a weights file nor a known name; did you mean torchvision/resnet18`}},

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
		{name: "force on a foreign directory", yaml: base, args: []string{"-out", notRun, "-force"}, code: 1, want: []string{"-force: " + notRun + " holds files a training run does not write, so it is not deleted", "notes.txt"}},
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

// runIn runs bin in dir to completion and returns its exit code and output (stdout and stderr).
func runIn(t *testing.T, dir, bin string, args, env []string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return exitCode(err), string(out)
}

// Keys ignore letter case consistently: a configuration that writes each key once, in any case, runs
// with those values, and the project's own FINEGRAIN_* variables that are not keys do not disturb it.
func TestConfigMixedCaseAndOwnVariables(t *testing.T) {
	bin := command(t, "train")
	root := dataset(t)
	tmp := t.TempDir()
	text := strings.Replace(tinyConfig(root, 2), "train:\n  epochs: 2\n", "Train:\n  EPOCHS: 3\n", 1)
	text = strings.Replace(text, "model:\n  attention: csca\n", "MODEL.Attention: ca\nmodel:\n", 1)
	cfg := writeConfig(t, tmp, "mixed.yaml", text)
	var own []string
	for _, name := range train.NonConfigEnv {
		own = append(own, name+"="+tmp) // a harmless value whatever the variable means
	}
	code, out := runCmd(t, bin, []string{"-config", cfg, "-set", "Log.Every_Steps=3", "-out", filepath.Join(tmp, "run"), "-dry-run", "-json"}, childEnv(own...))
	noPanic(t, out)
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	var plan train.Plan
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &plan); err != nil {
				t.Fatal(err)
			}
		}
	}
	if plan.Epochs != 3 || plan.Model.Attention != "ca" {
		t.Fatalf("dry run planned %d epochs of %q, want 3 of ca:\n%s", plan.Epochs, plan.Model.Attention, out)
	}
}

// -config NAME resolves against configs/ from the repository root, with or without .yaml, for every
// command that takes -config; a name found nowhere lists the configurations that exist.
func TestConfigNameResolvesInConfigDir(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := command(t, "train")
	tmp := t.TempDir()
	missingRoot := filepath.Join(tmp, "no-dataset")
	// The grid's configuration names a dataset under data/; pointing it at a directory that does not
	// exist makes the outcome the same on every machine, and its message shows which file was read.
	for _, name := range []string{"csca_cars", "csca_cars.yaml", "configs/csca_cars", "configs/csca_cars.yaml"} {
		t.Run(name, func(t *testing.T) {
			code, out := runIn(t, repo, bin, []string{"-config", name, "-set", "data.root=" + missingRoot, "-out", filepath.Join(tmp, "run")}, childEnv())
			noPanic(t, out)
			want := []string{"config configs/csca_cars.yaml: ", `data.root: "` + missingRoot + `": directory not found`}
			if code != 2 || !strings.Contains(out, want[0]) || !strings.Contains(out, want[1]) {
				t.Fatalf("exit status %d, want 2 and %q:\n%s", code, want, out)
			}
		})
	}
	listing := []string{"did you mean csca_cars?", "the configurations in configs/ are ca_cars, ca_cub, ca_dogs, csca_cars"}
	cases := []struct {
		name, cmd string
		args      []string
		code      int
	}{
		{"train", "train", []string{"-config", "csca_car", "-out", filepath.Join(tmp, "run-missing")}, 2},
		{"train -resume", "train", []string{"-resume", "-config", "csca_car.yaml"}, 2},
		{"export", "export", []string{"-config", "csca_car", "-weights", filepath.Join(tmp, "w.safetensors"), "-out", filepath.Join(tmp, "export")}, 1},
	}
	for _, c := range cases {
		t.Run("missing/"+c.name, func(t *testing.T) {
			code, out := runIn(t, repo, command(t, c.cmd), c.args, childEnv())
			noPanic(t, out)
			if code != c.code {
				t.Errorf("exit status %d, want %d:\n%s", code, c.code, out)
			}
			for _, w := range append([]string{"no such file or directory"}, listing...) {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// Shrinking train.epochs on -resume below the epochs a run has completed is refused before anything
// is written, from -set and from the environment, so the run's record (config.yaml, metrics,
// summary.json) keeps saying what it did. eval's -config resolves (and fails) as train's does.
func TestConfigResumeCannotShrinkRun(t *testing.T) {
	ref := reference(t, 2)
	bin := command(t, "train")
	record := []string{"config.yaml", "metrics.jsonl", "metrics.csv", "summary.json", filepath.Join("checkpoints", "checkpoint.json")}
	for _, c := range []struct {
		name string
		args []string
		env  []string
	}{
		{"-set", []string{"-set", "train.epochs=1"}, nil},
		{"environment", nil, []string{"FINEGRAIN_TRAIN_EPOCHS=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			copyTree(t, ref.dir, dir)
			before := map[string][]byte{}
			for _, f := range record {
				before[f] = mustRead(t, filepath.Join(dir, f))
			}
			code, out := runCmd(t, bin, append([]string{"-resume", "-out", dir}, c.args...), childEnv(c.env...))
			noPanic(t, out)
			if code == 0 || !strings.Contains(out, "train.epochs 1 is fewer than the 2 epochs this run has completed") {
				t.Fatalf("exit status %d, want a refusal naming both epoch counts:\n%s", code, out)
			}
			for _, f := range record {
				if after := mustRead(t, filepath.Join(dir, f)); !bytes.Equal(after, before[f]) {
					t.Errorf("the refused resume rewrote %s", f)
				}
			}
		})
	}
	t.Run("eval -config", func(t *testing.T) {
		repo, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		code, out := runIn(t, repo, command(t, "eval"), []string{"-model", ref.dir, "-config", "csca_car", "-out", filepath.Join(t.TempDir(), "eval")}, childEnv())
		noPanic(t, out)
		if code != 1 || !strings.Contains(out, "did you mean csca_cars?") {
			t.Fatalf("exit status %d, want 1 and the list of configurations:\n%s", code, out)
		}
	})
}
