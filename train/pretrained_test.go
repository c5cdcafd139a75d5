package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
	"github.com/finegrain/finegrain/weights/hub"
)

// tinyWeights exports a seeded tinyNet with classes outputs under torchvision's names: the tensors,
// which a test may edit before writing them.
func tinyWeights(t *testing.T, cfg *Config, classes int) map[string]*weights.Tensor {
	t.Helper()
	g := ops.NewGraph(42)
	images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 3)))
	if _, err := tinyNet(g.Head("head", false), images, cfg.NetConfig(classes)); err != nil {
		t.Fatal(err)
	}
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	ts, err := nets.ExportTorchvision(sess, g)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func writeWeights(t *testing.T, ts map[string]*weights.Tensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := weights.WriteSafetensors(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPretrainedImportRecorded: a run from a weights file records the import in RUN/pretrained.json
// (the file's sha256, every variable loaded, the counters skipped) and trains the loaded variables at
// the backbone rate; a file with another class count leaves the classifier fresh and says so.
func TestPretrainedImportRecorded(t *testing.T) {
	for _, classes := range []int{4, 6} {
		cfg := tinyConfig(t.TempDir())
		cfg.Train.Epochs = 1
		file := writeWeights(t, tinyWeights(t, cfg, classes))
		cfg.Model.Pretrained = file
		dir := filepath.Join(t.TempDir(), "run")
		if _, err := runTiny(t, cfg, dir, nil); err != nil {
			t.Fatal(err)
		}
		p, err := ReadPretrained(dir)
		if err != nil || p == nil {
			t.Fatalf("%d classes: pretrained.json: %v, %v", classes, p, err)
		}
		f, err := weights.Read(file)
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec != file || p.SHA256 != f.SHA256 || !p.Strict || len(p.Skipped) != 2 || len(p.Problems) != 0 {
			t.Errorf("%d classes: pretrained.json %+v", classes, p)
		}
		fresh := classes != 4
		if got := slices.Contains(p.Initialised, "fc/kernel"); got != fresh || (fresh && !strings.Contains(strings.Join(p.Notes, " "), "6 classes and the model's 4")) {
			t.Errorf("%d classes: initialised %v, notes %v", classes, p.Initialised, p.Notes)
		}
		st, err := ReadState(filepath.Join(dir, checkpointsDir, mustLatest(t, dir)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Backbone, p.Loaded) {
			t.Errorf("%d classes: backbone group %v, want the loaded variables %v", classes, st.Backbone, p.Loaded)
		}
		if s := p.Summary(); s.Loaded != len(p.Loaded) || s.SHA256 != p.SHA256 {
			t.Errorf("summary form %+v", s)
		}
	}
	if p, err := ReadPretrained(t.TempDir()); p != nil || err != nil {
		t.Errorf("a run from scratch: %v, %v; want nil, nil", p, err)
	}
}

func mustLatest(t *testing.T, dir string) string {
	t.Helper()
	p, err := ReadPointer(filepath.Join(dir, checkpointsDir))
	if err != nil {
		t.Fatal(err)
	}
	return p.Latest
}

// TestPretrainedRefusals: the strict import stops the run before training with a message naming what
// is wrong and what to do; model.pretrained_strict: false accepts the same file with a warning and
// the problems in pretrained.json; known names resolve through the cache and never download.
func TestPretrainedRefusals(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(hub.CacheEnv, cache)
	base := tinyConfig(t.TempDir())
	base.Train.Epochs = 1
	ts := tinyWeights(t, base, 4)
	delete(ts, "bn2.weight")
	partialFile := writeWeights(t, ts)
	e, _ := hub.Lookup("torchvision/resnet18.v1")
	for _, tc := range []struct {
		name, spec string
		strict     bool
		setup      func()
		errs       []string // substrings of the error; none: the run succeeds
		log        string
	}{
		{name: "missing tensor", spec: partialFile, strict: true,
			errs: []string{"model.pretrained " + partialFile, "strict import refused", "missing: bn2.weight", "model.pretrained_strict: false"}},
		{name: "partial load accepted", spec: partialFile, strict: false, log: "warning: model.pretrained_strict is false: a partial load with 1 problems"},
		{name: "known name not downloaded", spec: e.Name, strict: true,
			errs: []string{"torchvision/resnet18.v1 is not in the weights cache", "go run ./cmd/weights get torchvision/resnet18.v1"}},
		{name: "cached file that is not the catalogue's", spec: e.Name, strict: true, setup: func() {
			os.MkdirAll(filepath.Dir(e.Path(cache)), 0o755)
			os.WriteFile(e.Path(cache), mustRead(t, partialFile), 0o644)
		}, errs: []string{"not the file the catalogue knows", "delete it and run go run ./cmd/weights get torchvision/resnet18.v1"}},
		{name: "a bare architecture name", spec: "resnet18", strict: true, errs: []string{`did you mean torchvision/resnet18.v1?`}},
		{name: "missing path", spec: filepath.Join(cache, "r50.pth"), strict: true, errs: []string{"r50.pth: file not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			cfg := *base
			cfg.Model.Pretrained, cfg.Model.StrictImport = tc.spec, tc.strict
			dir := filepath.Join(t.TempDir(), "run")
			var log strings.Builder
			_, err := runTiny(t, &cfg, dir, func(o *Options) { o.Log = &log })
			if len(tc.errs) == 0 && err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\nwant one containing %q", err, want)
				}
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, log.String())
			}
			p, _ := ReadPretrained(dir)
			switch {
			case err != nil && p != nil:
				t.Error("a refused import wrote pretrained.json")
			case err != nil:
				if _, serr := os.Stat(filepath.Join(dir, checkpointsDir)); serr == nil {
					t.Error("a refused import left checkpoints: training ran")
				}
			case p == nil || len(p.Problems) != 1 || p.Strict || !slices.Contains(p.Initialised, "bn2/gamma"):
				t.Errorf("partial load: pretrained.json %+v", p)
			}
		})
	}
}
