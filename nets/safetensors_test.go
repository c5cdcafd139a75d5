package nets

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
)

// values reads every variable of m as float32s by name.
func values(t *testing.T, m *model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range m.g.Variables() {
		r, err := m.sess.Run(nil, []tf.Output{v.Value}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := float32Values(r[0])
		if err != nil {
			t.Fatal(err)
		}
		out[v.Name] = f
	}
	return out
}

// TestExportImportRoundTrip exports a gated model (random gates: seeded initialisers, gate weights
// perturbed) under torchvision's names and imports the file strictly into a model built with another
// seed: every variable comes back bit for bit, gates included, and each BN's num_batches_tracked is
// skipped.
func TestExportImportRoundTrip(t *testing.T) {
	for _, attention := range []Attention{AttentionCSCA, AttentionFCN} {
		cfg := DefaultConfig()
		cfg.Depth, cfg.Attention, cfg.NumClasses, cfg.WidthMultiplier = 18, attention, 7, 0.25
		a := newModel(t, cfg, false, tf.Float, 1, 32, 32)
		for _, v := range a.g.Variables() {
			if role(v.Name) == roleGate {
				perturb(t, a.sess, v, 1.5, 0.01) // zero-initialised kernels become non-zero
			}
		}
		ts, err := ExportTorchvision(a.sess, a.g)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "out.safetensors")
		if err := weights.WriteSafetensors(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		b := newModelSeed(t, cfg, 99)
		rep, err := Import(b.sess, b.g, path, ImportOptions{KeepClassifier: true})
		if err != nil {
			t.Fatal(err)
		}
		bns := 0
		for _, v := range b.g.Variables() {
			if strings.HasSuffix(v.Name, "/moving_variance") {
				bns++
			}
		}
		if len(rep.Initialised) != 0 || len(rep.Unused) != 0 || len(rep.Skipped) != bns || bns < 20 {
			t.Errorf("%s: report %s, skipped %d, want everything loaded and the %d BN counters skipped", attention, rep, len(rep.Skipped), bns)
		}
		va, vb := values(t, a), values(t, b)
		fresh := newModelSeed(t, cfg, 99)
		if slices.Equal(va["layer1/0/conv1/kernel"], values(t, fresh)["layer1/0/conv1/kernel"]) {
			t.Fatal("the two seeds give the same initial values: the round trip would prove nothing")
		}
		for name, x := range va {
			if !slices.Equal(x, vb[name]) {
				t.Errorf("%s: %s differs after the round trip", attention, name)
			}
		}
	}
}

// perturb sets a float32 variable of any shape to a·v + b.
func perturb(t *testing.T, sess *tf.Session, v *ops.Variable, a, b float32) {
	t.Helper()
	out, err := sess.Run(nil, []tf.Output{v.Value}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := float32Values(out[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		vals[i] = a*vals[i] + b
	}
	x, err := feedTensor(vals, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: x}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
		t.Fatal(err)
	}
}

// newModelSeed is newModel (inference head, 1×32×32 images) with another graph seed, so its initial
// values differ from newModel's.
func newModelSeed(t *testing.T, cfg Config, seed int64) *model {
	t.Helper()
	m := &model{g: ops.NewGraphOf(tf.Float, seed)}
	m.images = op.Placeholder(m.g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 3)))
	var err error
	if m.out, err = Build(m.g.Head("head", false), m.images, cfg); err != nil {
		t.Fatal(err)
	}
	if m.sess, err = ops.DefaultSessionConfig().NewSession(m.g.TF()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.sess.Close() })
	if _, err := m.sess.Run(nil, nil, []*tf.Operation{m.g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	return m
}

// loadScript loads a safetensors file (parsed by hand: the safetensors package is not installed) into
// torchvision's ResNet-<depth> with load_state_dict(strict=True) and prints the logits of the images of
// a second file as JSON. argv: weights depth classes images.
const loadScript = `
import json, struct, sys, numpy as np, torch, torchvision
def load(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, e in h.items():
        if k == '__metadata__':
            continue
        s, t = e['data_offsets']
        dt = {'F32': np.float32, 'I64': np.int64}[e['dtype']]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + t], dtype=dt).copy().reshape(e['shape']))
    return out
m = getattr(torchvision.models, 'resnet' + sys.argv[2])(weights=None, num_classes=int(sys.argv[3]))
m.load_state_dict(load(sys.argv[1]), strict=True)
m.eval()
x = load(sys.argv[4])['images'].permute(0, 3, 1, 2) / 255
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    print(json.dumps(m((x - mean) / std).flatten().tolist()))
`

// TestExportLoadsIntoTorchvision exports a none ResNet-18 (seeded initial weights, BN statistics
// perturbed) and loads it into torchvision.models.resnet18 with strict=True: torchvision's logits for
// the same images equal the graph's to 1e-4 of their scale.
func TestExportLoadsIntoTorchvision(t *testing.T) {
	py := pyref.Torch(t)
	cfg := DefaultConfig()
	cfg.Depth, cfg.NumClasses = 18, 5
	m := newModel(t, cfg, false, tf.Float, 2, 64, 48)
	for _, v := range m.g.Variables() {
		if strings.HasSuffix(v.Name, "moving_variance") || strings.HasSuffix(v.Name, "gamma") {
			perturb(t, m.sess, v, 1.3, 0)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	images := make([]float32, 2*64*48*3)
	for i := range images {
		images[i] = float32(rng.IntN(256))
	}
	got := flatLogits(m.run(t, images, m.out.Logits)[0])
	ts, err := ExportTorchvision(m.sess, m.g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := weights.WriteSafetensors(filepath.Join(dir, "w.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	img, err := weights.FromFloat32s(images, 2, 64, 48, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteSafetensors(filepath.Join(dir, "io.safetensors"), map[string]*weights.Tensor{"images": img}, nil); err != nil {
		t.Fatal(err)
	}
	out := pyref.Run(t, py, loadScript, filepath.Join(dir, "w.safetensors"), "18", "5", filepath.Join(dir, "io.safetensors"))
	var want []float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	delta, scale := maxDelta(got, want)
	t.Logf("max |Δ| %.3g against torchvision, logits up to %.3g", delta, scale)
	if len(got) != len(want) || delta > 1e-4*math.Max(scale, 1e-3) {
		t.Errorf("logits %v, torchvision %v", got, want)
	}
}
