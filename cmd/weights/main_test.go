package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
	"github.com/finegrain/finegrain/weights/hub"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// TestUsage: -h of the command and of every subcommand prints a usage with its purpose and examples
// and exits 0; no command, an unknown one, or wrong arguments exit 2 and say so.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"list", "-h"}, {"get", "-h"}, {"inspect", "-h"}, {"convert", "-h"}, {"export", "-h"}} {
		code, out, errOut := runCmd(args...)
		text := out + errOut
		if code != exitOK || !strings.Contains(text, "Usage: weights") || !strings.Contains(text, "Examples:") || !strings.Contains(text, "go run ./cmd/weights") {
			t.Errorf("%v: exit %d, output:\n%s", args, code, text)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "Usage: weights"},
		{[]string{"fetch"}, `unknown command "fetch"`},
		{[]string{"get"}, "wrong arguments"},
		{[]string{"get", "resnet18"}, "did you mean torchvision/resnet18.v1?"},
		{[]string{"convert", "a.pth"}, "wrong arguments"},
		{[]string{"convert", "a.pth", "b.bin"}, "want a name ending in .safetensors"},
		{[]string{"list", "extra"}, "wrong arguments"},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, exitUsage, tc.msg)
		}
	}
}

// TestList prints every known name with its URL, what its download is checked against, and whether it
// is in the cache (and the command that gets it when it is not).
func TestList(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(hub.CacheEnv, cache)
	e, _ := hub.Lookup("torchvision/resnet18.v1")
	os.MkdirAll(filepath.Dir(e.Path(cache)), 0o755)
	os.WriteFile(e.Path(cache), []byte("x"), 0o644)
	code, out, errOut := runCmd("list")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"cache: " + cache,
		"torchvision/resnet50.v2  (also torchvision/resnet50.IMAGENET1K_V2)",
		"https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
		"sha256  prefix 11ad3fa6 only",
		"80.858% on ImageNet-1k val at resize 232, centre crop 224",
		"cached  " + e.Path(cache),
		"cached  no: go run ./cmd/weights get torchvision/resnet50.v2",
		"timm/resnet50.a1_in1k",
		"sha256  not recorded here",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd("list", "-json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); code != exitOK || err != nil || len(rows) != len(hub.Known) {
		t.Errorf("list -json: exit %d, %v, %d rows", code, err, len(rows))
	}
}

// detectorScript saves torchvision's ResNet-18 (seeded) the way detection or self-supervised code
// does: inside a checkpoint under "model", every name prefixed with "backbone.", with a head beside it.
const detectorScript = `
import collections, sys, torch, torchvision
torch.manual_seed(0)
sd = torchvision.models.resnet18(weights=None).state_dict()
model = collections.OrderedDict(('backbone.' + k, v) for k, v in sd.items())
model['head.weight'] = torch.randn(3, 512)
torch.save({'model': model, 'iteration': 5000}, sys.argv[1])
`

// TestInspectConvert: inspect of a detector-style checkpoint against a ResNet-18 configuration refuses
// with the prefix and the convert command to use; convert -strip-prefix writes a safetensors file
// that inspect then maps variable by variable and accepts.
func TestInspectConvert(t *testing.T) {
	py := pyref.Torch(t)
	dir := t.TempDir()
	pth := filepath.Join(dir, "detector.pth")
	pyref.Run(t, py, detectorScript, pth)
	cfg := filepath.Join(dir, "r18.yaml")
	os.WriteFile(cfg, []byte("model: {attention: none, depth: 18, num_classes: 1000}\ndata: {root: "+dir+"}\n"), 0o644)

	code, out, errOut := runCmd("inspect", pth)
	if code != exitOK || !strings.Contains(out, `state dict under "model"`) || !strings.Contains(out, "backbone.conv1.weight") || !strings.Contains(out, "F32   [64 3 7 7]") {
		t.Errorf("inspect: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCmd("inspect", pth, "-config", cfg)
	if code != exitFailed || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "go run ./cmd/weights convert -strip-prefix backbone. "+pth+" OUT.safetensors") {
		t.Errorf("inspect -config: exit %d\n%s", code, out)
	}

	st := filepath.Join(dir, "r18.safetensors")
	code, out, errOut = runCmd("convert", "-strip-prefix", "backbone.", pth, st)
	if code != exitOK || !strings.Contains(errOut, `left out 1 tensors outside "backbone."`) {
		t.Fatalf("convert: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = runCmd("convert", pth, st); code != exitFailed || !strings.Contains(errOut, "exists") {
		t.Errorf("convert over an existing file: exit %d, %s", code, errOut)
	}
	code, out, errOut = runCmd("inspect", st, "-config", cfg)
	for _, want := range []string{"format  safetensors", "conv1.weight", "-> conv1/kernel (OIHW→HWIO)", "-> fc/kernel ([out,in]→[in,out])", "skipped      20 num_batches_tracked", "strict import: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect of the converted file lacks %q (exit %d):\n%s%s", want, code, out, errOut)
		}
	}
	src, _ := weights.Read(pth)
	dst, err := weights.Read(st)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Metadata["source_sha256"] != src.SHA256 || len(dst.Tensors) != len(src.Tensors)-1 || !bytes.Equal(dst.Tensors["layer4.1.bn2.running_var"].Data, src.Tensors["backbone.layer4.1.bn2.running_var"].Data) {
		t.Errorf("converted file: metadata %v, %d tensors of %d", dst.Metadata, len(dst.Tensors), len(src.Tensors))
	}
	code, out, _ = runCmd("inspect", st, "-config", cfg, "-set", "model.depth=34")
	if code != exitFailed || !strings.Contains(out, "wrong depth: the file holds a ResNet-18 and the model is a ResNet-34") {
		t.Errorf("inspect at depth 34: exit %d\n%s", code, out)
	}
}

// torchvisionLogits loads a safetensors file into torchvision's ResNet-18 with strict=True and prints
// the logits of the images of a second file. argv: weights classes images.
const torchvisionLogits = `
import json, struct, sys, numpy as np, torch, torchvision
def load(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: torch.from_numpy(np.frombuffer(b[8 + n + e['data_offsets'][0]:8 + n + e['data_offsets'][1]], dtype={'F32': np.float32, 'I64': np.int64}[e['dtype']]).copy().reshape(e['shape']))
            for k, e in h.items() if k != '__metadata__'}
m = torchvision.models.resnet18(weights=None, num_classes=int(sys.argv[2]))
m.load_state_dict(load(sys.argv[1]), strict=True)
m.eval()
x = load(sys.argv[3])['images'].permute(0, 3, 1, 2) / 255
mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    print(json.dumps(m((x - mean) / std).flatten().tolist()))
`

// TestExport exports a checkpoint of a none ResNet-18 (seeded, BN statistics moved away from 0 and 1)
// and loads the file into torchvision.models.resnet18 with strict=True: its logits equal the graph's
// to 1e-4 of their scale.
func TestExport(t *testing.T) {
	py := pyref.Torch(t)
	dir := t.TempDir()
	cfg := nets.DefaultConfig()
	cfg.Depth, cfg.NumClasses = 18, 4
	g := ops.NewGraph(5)
	var images, logits tf.Output
	err := ops.Catch("checkpoint graph", g, func() error {
		images = op.Placeholder(g.Root().SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(2, 40, 40, 3)))
		out, err := nets.Build(g.Head("eval", false), images, cfg)
		logits = out.Logits
		return err
	})
	if err != nil {
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
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range g.Variables() {
		if strings.HasSuffix(v.Name, "moving_mean") || strings.HasSuffix(v.Name, "moving_variance") {
			vals := make([]float32, v.Shape[0])
			for i := range vals {
				vals[i] = 0.5 + rng.Float32()
			}
			tv, _ := tf.NewTensor(vals)
			if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: tv}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
				t.Fatal(err)
			}
		}
	}
	prefix := filepath.Join(dir, "ckpt", "model")
	if err := g.Saver().SaveTo(sess, prefix); err != nil {
		t.Fatal(err)
	}
	pix := make([]float32, 2*40*40*3)
	for i := range pix {
		pix[i] = float32(rng.IntN(256))
	}
	in, _ := tf.NewTensor(pix)
	in.Reshape([]int64{2, 40, 40, 3})
	ref, err := sess.Run(map[tf.Output]*tf.Tensor{images: in}, []tf.Output{logits}, nil)
	if err != nil {
		t.Fatal(err)
	}

	cfgFile := filepath.Join(dir, "none18.yaml")
	os.WriteFile(cfgFile, []byte("model: {attention: none, depth: 18}\ndata: {root: "+dir+"}\n"), 0o644)
	out := filepath.Join(dir, "none18.safetensors")
	if code, _, errOut := runCmd("export", prefix, out, "-config", cfgFile); code != exitFailed || !strings.Contains(errOut, "model.num_classes=K") {
		t.Errorf("export without a class count: exit %d, %s", code, errOut)
	}
	code, stdout, errOut := runCmd("export", "-config", cfgFile, "-set", "model.num_classes=4", prefix, out)
	if code != exitOK || !strings.Contains(stdout, "strict=True") {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, errOut)
	}
	img, _ := weights.FromFloat32s(pix, 2, 40, 40, 3)
	ioFile := filepath.Join(dir, "io.safetensors")
	if err := weights.WriteSafetensors(ioFile, map[string]*weights.Tensor{"images": img}, nil); err != nil {
		t.Fatal(err)
	}
	var want []float64
	if err := json.Unmarshal(pyref.Run(t, py, torchvisionLogits, out, "4", ioFile), &want); err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, row := range ref[0].Value().([][]float32) {
		for _, x := range row {
			got = append(got, float64(x))
		}
	}
	var delta, scale float64
	for i := range want {
		delta, scale = math.Max(delta, math.Abs(got[i]-want[i])), math.Max(scale, math.Abs(want[i]))
	}
	t.Logf("max |Δ| %.3g against torchvision, logits up to %.3g", delta, scale)
	if len(got) != len(want) || delta > 1e-4*scale {
		t.Errorf("logits %v, torchvision %v", got, want)
	}
	if code, _, errOut := runCmd("export", "-config", cfgFile, "-set", "model.num_classes=4", prefix, out); code != exitFailed || !strings.Contains(errOut, "exists") {
		t.Errorf("export over an existing file: exit %d, %s", code, errOut)
	}
}
