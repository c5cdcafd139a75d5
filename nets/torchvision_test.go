package nets

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
)

// torchvisionScript writes torchvision's ResNet-<depth> with seeded random weights, including random BN
// affine parameters and running statistics (so a wrong epsilon, a swapped mean/variance or a missing
// transpose shows), as a safetensors file written by hand (the safetensors package is not installed),
// together with random 0..255 images and the logits torchvision computes for them in eval mode after
// ToTensor's /255 and Normalize. argv: dir depth n h w seed.
const torchvisionScript = `
import json, struct, sys, torch, torchvision
out, depth, n, h, w, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.manual_seed(seed)
m = getattr(torchvision.models, 'resnet%d' % depth)(weights=None)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.normal_(0, 0.2)
            mod.running_mean.normal_(0, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
            mod.num_batches_tracked.fill_(7)
    m.fc.bias.normal_(0, 0.1)
m.eval()
images = torch.randint(0, 256, (n, h, w, 3)).float()
x = images.permute(0, 3, 1, 2) / 255
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    logits = m((x - mean) / std)

DTYPES = {torch.float32: 'F32', torch.int64: 'I64'}
def save(path, tensors):
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
save('%s/resnet%d.safetensors' % (out, depth), m.state_dict())
save('%s/resnet%d_io.safetensors' % (out, depth), {'images': images, 'logits': logits})

# The same weights as PyTorch users have them (ResNet-18 only): torch.save's zip format (torch >= 1.6),
# the legacy format, a training checkpoint of a DistributedDataParallel model, and half and bfloat16
# copies whose float32 values (exactly representable) go to safetensors beside them.
import collections
if depth == 18:
    sd = m.state_dict()
    torch.save(sd, '%s/resnet%d.pth' % (out, depth))
    torch.save(sd, '%s/resnet%d_legacy.pth' % (out, depth), _use_new_zipfile_serialization=False)
    ddp = collections.OrderedDict(('module.' + k, v) for k, v in sd.items())
    torch.save({'epoch': 90, 'arch': 'resnet%d' % depth, 'state_dict': ddp, 'best_acc1': torch.tensor(0.5)}, '%s/resnet%d_ddp.pth' % (out, depth))
    for dt, name in ((torch.float16, 'half'), (torch.bfloat16, 'bf16')):
        low = collections.OrderedDict((k, v.to(dt) if v.is_floating_point() else v) for k, v in sd.items())
        torch.save(low, '%s/resnet%d_%s.pth' % (out, depth, name), _use_new_zipfile_serialization=(name == 'half'))
        save('%s/resnet%d_%s_as_f32.safetensors' % (out, depth, name), collections.OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in low.items()))
`

var fixtures struct {
	sync.Mutex
	dir   string
	files map[int]string
}

// TestMain removes the fixtures that torchvision wrote for the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// torchvisionFixture returns the directory holding resnet<depth>.safetensors and
// resnet<depth>_io.safetensors (two 120×97 images), generating them once per test binary.
func torchvisionFixture(t *testing.T, depth int) string {
	t.Helper()
	py := pyref.Torch(t)
	fixtures.Lock()
	defer fixtures.Unlock()
	if fixtures.dir == "" {
		dir, err := os.MkdirTemp("", "nets-torchvision")
		if err != nil {
			t.Fatal(err)
		}
		fixtures.dir, fixtures.files = dir, map[int]string{}
	}
	if _, ok := fixtures.files[depth]; !ok {
		pyref.Run(t, py, torchvisionScript, fixtures.dir, fmt.Sprint(depth), "2", "120", "97", fmt.Sprint(depth))
		fixtures.files[depth] = fixtures.dir
	}
	return fixtures.dir
}

// model is a built graph with one head ready to run.
type model struct {
	g      *ops.Graph
	images tf.Output
	out    Outputs
	sess   *tf.Session
}

// newModel builds cfg under one head for images of shape [n, h, w, 3], opens a session and runs the
// initialiser.
func newModel(t testing.TB, cfg Config, training bool, dtype tf.DataType, n, h, w int) *model {
	t.Helper()
	m := &model{g: ops.NewGraphOf(dtype, 1)}
	m.images = op.Placeholder(m.g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(int64(n), int64(h), int64(w), 3)))
	var err error
	if m.out, err = Build(m.g.Head("head", training), m.images, cfg); err != nil {
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

// run evaluates outputs for images (flat NHWC float32).
func (m *model) run(t testing.TB, images []float32, outs ...tf.Output) []*tf.Tensor {
	t.Helper()
	x, err := tf.NewTensor(images)
	if err != nil {
		t.Fatal(err)
	}
	shape, _ := m.images.Shape().ToSlice()
	if err := x.Reshape(shape); err != nil {
		t.Fatal(err)
	}
	res, err := m.sess.Run(map[tf.Output]*tf.Tensor{m.images: x}, outs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readIO returns the fixture's images and torchvision's logits.
func readIO(t *testing.T, dir string, depth int) (images, logits []float32) {
	t.Helper()
	f, err := weights.Read(filepath.Join(dir, fmt.Sprintf("resnet%d_io.safetensors", depth)))
	if err != nil {
		t.Fatal(err)
	}
	if images, err = f.Tensors["images"].Float32s(); err != nil {
		t.Fatal(err)
	}
	if logits, err = f.Tensors["logits"].Float32s(); err != nil {
		t.Fatal(err)
	}
	return images, logits
}

// maxDelta returns max |a-b| and max |b|.
func maxDelta(a, b []float64) (delta, scale float64) {
	for i := range b {
		delta = math.Max(delta, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return delta, scale
}

func float64s[T float32 | float64](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestTorchvisionLogits imports torchvision's weights (random, with random BN statistics) into the
// none model and requires torchvision's logits on the same 0..255 images (two 120×97 images: odd and
// non-square sizes exercise the stride-2 padding): max |Δ| <= 1e-4 of the logits' largest magnitude.
// Every variable is loaded and only num_batches_tracked is left over.
func TestTorchvisionLogits(t *testing.T) {
	for _, depth := range []int{18, 50} {
		t.Run(fmt.Sprintf("resnet%d", depth), func(t *testing.T) {
			if depth == 50 && testing.Short() {
				t.Skip("ResNet-50 reference check runs without -short")
			}
			dir := torchvisionFixture(t, depth)
			images, want := readIO(t, dir, depth)
			cfg := DefaultConfig()
			cfg.Depth = depth
			m := newModel(t, cfg, false, tf.Float, 2, 120, 97)
			rep, err := ImportTorchvision(m.sess, m.g, filepath.Join(dir, fmt.Sprintf("resnet%d.safetensors", depth)))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Initialised) != 0 || len(rep.Loaded) != len(m.g.Variables()) {
				t.Errorf("report %s: want every variable loaded", rep)
			}
			if len(rep.Unused) != 0 {
				t.Errorf("file tensors matched no variable: %v", rep.Unused)
			}
			delta, scale := maxDelta(flatLogits(m.run(t, images, m.out.Logits)[0]), float64s(want))
			t.Logf("resnet%d: max |Δ| %.3g against torchvision, logits up to %.3g", depth, delta, scale)
			if delta > 1e-4*scale {
				t.Errorf("max |Δ| %.3g exceeds 1e-4 × %.3g", delta, scale)
			}
		})
	}
}

func flatLogits(t *tf.Tensor) []float64 {
	var out []float64
	for _, row := range t.Value().([][]float32) {
		out = append(out, float64s(row)...)
	}
	return out
}

// TestImportedGatesStartAtIdentity imports torchvision ResNet-18 weights into every gated variant and
// checks the documented initial state: each gate multiplies its residual branch by the constant c =
// σ(6) (plain) or 1+σ(-6) (residual), squared for the sequential channel-spatial gate, so the variant's
// logits equal those of the none model with each gated block's last BN scaled by c (gamma and beta),
// to 1e-4 of the logits' scale. fcn (c = 1) must equal none itself. Only the gates' variables are left
// initialised. The log shows how far each variant starts from the unscaled pretrained model.
func TestImportedGatesStartAtIdentity(t *testing.T) {
	dir := torchvisionFixture(t, 18)
	weights := filepath.Join(dir, "resnet18.safetensors")
	images, _ := readIO(t, dir, 18)
	sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	base := DefaultConfig()
	base.Depth = 18
	none := newModel(t, base, false, tf.Float, 2, 120, 97)
	if _, err := ImportTorchvision(none.sess, none.g, weights); err != nil {
		t.Fatal(err)
	}
	pretrained := flatLogits(none.run(t, images, none.out.Logits)[0])
	for _, tc := range []struct {
		kind   Attention
		form   GateForm
		fusion CSCAFusion
		stages []int
	}{
		{"fcn", "plain", "parallel", nil},
		{"ca", "plain", "parallel", nil},
		{"ca", "residual", "parallel", nil},
		{"sa", "plain", "parallel", nil},
		{"sa", "residual", "parallel", []int{3, 4}},
		{"csca", "plain", "parallel", nil},
		{"csca", "residual", "parallel", nil},
		{"csca", "plain", "sequential", []int{2}},
		{"csca", "residual", "sequential", nil},
	} {
		t.Run(fmt.Sprintf("%s_%s_%s_%v", tc.kind, tc.form, tc.fusion, tc.stages), func(t *testing.T) {
			if testing.Short() && tc.kind != "csca" {
				t.Skip("-short checks the channel-spatial variants only")
			}
			cfg := base
			cfg.Attention, cfg.GateForm, cfg.CSCAFusion, cfg.AttentionStages = tc.kind, tc.form, tc.fusion, tc.stages
			m := newModel(t, cfg, false, tf.Float, 2, 120, 97)
			rep, err := ImportTorchvision(m.sess, m.g, weights)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range rep.Initialised {
				if !strings.Contains(n, "/"+string(tc.kind)+"/") {
					t.Errorf("%s left initialised; only gate variables should be", n)
				}
			}
			if tc.kind != "fcn" && len(rep.Initialised) == 0 {
				t.Error("no gate variables reported as initialised")
			}
			got := flatLogits(m.run(t, images, m.out.Logits)[0])

			c := 1.0
			if tc.kind != "fcn" {
				c = sig(ops.GateInitLogit)
				if tc.form == "residual" {
					c = 1 + sig(-ops.GateInitLogit)
				}
				if tc.fusion == "sequential" && tc.kind == "csca" {
					c *= c
				}
			}
			ref := newModel(t, base, false, tf.Float, 2, 120, 97)
			if _, err := ImportTorchvision(ref.sess, ref.g, weights); err != nil {
				t.Fatal(err)
			}
			for _, v := range ref.g.Variables() {
				var stage, block int
				var param string
				if _, err := fmt.Sscanf(v.Name, "layer%d/%d/bn2/%s", &stage, &block, &param); err != nil || !cfg.hasGate(stage) || (param != "gamma" && param != "beta") {
					continue
				}
				scaleVariable(t, ref.sess, v, c)
			}
			want := flatLogits(ref.run(t, images, ref.out.Logits)[0])
			delta, scale := maxDelta(got, want)
			start, _ := maxDelta(got, pretrained)
			t.Logf("gate %.6f: max |Δ| %.3g against the scaled model; %.3g (%.2f%% of %.3g) against the pretrained one", c, delta, start, 100*start/scale, scale)
			if delta > 1e-4*scale {
				t.Errorf("max |Δ| %.3g against the none model with gated branches scaled by %.6f, want <= 1e-4 × %.3g", delta, c, scale)
			}
		})
	}
}

// scaleVariable multiplies a float32 variable by c.
func scaleVariable(t *testing.T, sess *tf.Session, v *ops.Variable, c float64) {
	t.Helper()
	out, err := sess.Run(nil, []tf.Output{v.Value}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := out[0].Value().([]float32)
	for i := range vals {
		vals[i] = float32(float64(vals[i]) * c)
	}
	x, err := tf.NewTensor(vals)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: x}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
		t.Fatal(err)
	}
}

// TestImportMismatches: a classifier of another size is left initialised and reported; a known tensor
// that does not fit its variable is an error naming both; a broken file is an error.
func TestImportMismatches(t *testing.T) {
	dir := torchvisionFixture(t, 18)
	weights := filepath.Join(dir, "resnet18.safetensors")
	cfg := DefaultConfig()
	cfg.Depth, cfg.NumClasses = 18, 10
	for _, kind := range []Attention{AttentionNone, AttentionFCN} {
		cfg.Attention = kind
		m := newModel(t, cfg, false, tf.Float, 1, 32, 32)
		rep, err := ImportTorchvision(m.sess, m.g, weights)
		if err != nil {
			t.Fatalf("%s with 10 classes: %v", kind, err)
		}
		if !slices.Equal(rep.Initialised, []string{"fc/kernel", "fc/bias"}) || !slices.Equal(rep.Unused, []string{"fc.bias", "fc.weight"}) {
			t.Errorf("%s with 10 classes: report %s, want only the classifier initialised and unused", kind, rep)
		}
	}

	cfg = DefaultConfig()
	cfg.Depth, cfg.WidthMultiplier = 18, 0.5
	m := newModel(t, cfg, false, tf.Float, 1, 32, 32)
	_, err := ImportTorchvision(m.sess, m.g, weights)
	if err == nil || !strings.Contains(err.Error(), "bn1.bias") || !strings.Contains(err.Error(), "bn1/beta") {
		t.Errorf("half-width model: error %v, want one naming tensor bn1.bias and variable bn1/beta", err)
	}

	b, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.safetensors")
	if err := os.WriteFile(broken, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.WidthMultiplier = 1
	m = newModel(t, cfg, false, tf.Float, 1, 32, 32)
	if _, err := ImportTorchvision(m.sess, m.g, broken); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("truncated file: error %v, want one about data outside the file", err)
	}
	if _, err := ImportTorchvision(m.sess, m.g, filepath.Join(t.TempDir(), "missing.safetensors")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestImportTorchFormats imports the same torchvision ResNet-18 weights, strictly and with the
// classifier required, from torch.save's zip and legacy formats and from a DistributedDataParallel
// training checkpoint (state_dict key, module. prefix), and requires torchvision's logits on the
// fixture's images to 1e-4 of their scale; half (zip) and bfloat16 (legacy) files must load to exactly
// the float32 values of their rounded weights.
func TestImportTorchFormats(t *testing.T) {
	dir := torchvisionFixture(t, 18)
	images, want := readIO(t, dir, 18)
	cfg := DefaultConfig()
	cfg.Depth = 18
	strict := ImportOptions{KeepClassifier: true}
	for _, tc := range []struct{ file, format, wrapper, prefix string }{
		{"resnet18.pth", weights.FormatTorchZip, "", ""},
		{"resnet18_legacy.pth", weights.FormatTorchLegacy, "", ""},
		{"resnet18_ddp.pth", weights.FormatTorchZip, "state_dict", "module."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := newModel(t, cfg, false, tf.Float, 2, 120, 97)
			rep, err := Import(m.sess, m.g, filepath.Join(dir, tc.file), strict)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tc.format || rep.Wrapper != tc.wrapper || rep.Prefix != tc.prefix || len(rep.SHA256) != 64 {
				t.Errorf("report format %q wrapper %q prefix %q sha256 %q, want %q %q %q", rep.Format, rep.Wrapper, rep.Prefix, rep.SHA256, tc.format, tc.wrapper, tc.prefix)
			}
			if len(rep.Loaded) != len(m.g.Variables()) || len(rep.Skipped) != 20 || len(rep.Unused)+len(rep.Problems) != 0 {
				t.Errorf("report %s with %d skipped, want all %d variables loaded and the 20 counters skipped", rep, len(rep.Skipped), len(m.g.Variables()))
			}
			delta, scale := maxDelta(flatLogits(m.run(t, images, m.out.Logits)[0]), float64s(want))
			if delta > 1e-4*scale {
				t.Errorf("max |Δ| %.3g exceeds 1e-4 × %.3g", delta, scale)
			}
		})
	}
	for _, low := range []string{"half", "bf16"} {
		t.Run(low, func(t *testing.T) {
			a := newModel(t, cfg, false, tf.Float, 1, 32, 32)
			if _, err := Import(a.sess, a.g, filepath.Join(dir, "resnet18_"+low+".pth"), strict); err != nil {
				t.Fatal(err)
			}
			b := newModel(t, cfg, false, tf.Float, 1, 32, 32)
			if _, err := Import(b.sess, b.g, filepath.Join(dir, "resnet18_"+low+"_as_f32.safetensors"), strict); err != nil {
				t.Fatal(err)
			}
			va, vb := values(t, a), values(t, b)
			for name, x := range vb {
				if !slices.Equal(va[name], x) {
					t.Errorf("%s differs from the float32 copy of the %s weights", name, low)
				}
			}
		})
	}
}

// TestImportStrictRefusesWrongDepth is the friction of the issue with real files: ResNet-18 weights
// written by torch.save into a ResNet-34 are refused before anything is assigned, with a message that
// names the depths and what to set; model.pretrained_strict: false (Partial) loads them knowingly.
func TestImportStrictRefusesWrongDepth(t *testing.T) {
	dir := torchvisionFixture(t, 18)
	cfg := DefaultConfig()
	cfg.Depth = 34
	m := newModel(t, cfg, false, tf.Float, 1, 32, 32)
	before := values(t, m)
	path := filepath.Join(dir, "resnet18.pth")
	_, err := Import(m.sess, m.g, path, ImportOptions{})
	for _, want := range []string{path, "ResNet-18", "ResNet-34", "model.depth: 18", "missing: layer1.2.conv1.weight", "model.pretrained_strict: false"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant one containing %q", err, want)
		}
	}
	if after := values(t, m); !slices.Equal(after["conv1/kernel"], before["conv1/kernel"]) {
		t.Error("a refused import assigned variables")
	}
	rep, err := Import(m.sess, m.g, path, ImportOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Strict || len(rep.Problems) == 0 || len(rep.Loaded) == 0 || !slices.Contains(rep.Initialised, "layer1/2/conv1/kernel") {
		t.Errorf("partial report %s: want problems listed, some variables loaded, layer1/2 initialised", rep)
	}
}
