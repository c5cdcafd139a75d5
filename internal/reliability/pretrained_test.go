package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/train"
)

// paperPathScript is the oracle of TestPretrainedPaperPath: torchvision's ResNet-18 with seeded random
// weights, random BN affine parameters and running statistics (so a swapped mean/variance, a wrong
// epsilon or a missing transpose shows), saved with torch.save(model.state_dict()) in the zip format;
// random 0..255 images; torchvision's eval-mode logits for them after ToTensor's /255 and Normalize;
// and the logits of the same network with every BasicBlock's bn2 weight and bias multiplied by c, which
// is what a gate that multiplies each residual branch by the constant c computes. Printed as JSON with
// the state dict's keys. argv: dir n size seed c.
const paperPathScript = `
import json, sys, torch, torchvision
out, n, size, seed, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
torch.manual_seed(seed)
m = torchvision.models.resnet18(weights=None)
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
sd = m.state_dict()
torch.save(sd, out + '/resnet18.pth')
images = torch.randint(0, 256, (n, size, size, 3)).float()
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = (images.permute(0, 3, 1, 2) / 255 - mean) / std
with torch.no_grad():
    logits = m(x)
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        for block in layer:
            block.bn2.weight.mul_(c)
            block.bn2.bias.mul_(c)
    scaled = m(x)
json.dump({'keys': list(sd.keys()), 'images': images.flatten().tolist(),
           'logits': logits.flatten().tolist(), 'scaled': scaled.flatten().tolist()}, sys.stdout)
`

// paperOracle is what paperPathScript printed.
type paperOracle struct {
	Keys   []string  `json:"keys"`
	Images []float32 `json:"images"`
	Logits []float64 `json:"logits"`
	Scaled []float64 `json:"scaled"`
}

const (
	paperImages    = 2  // oracle images
	paperImageSize = 48 // 48 → 24 → 12 → 6 → 3 → 2: odd sizes exercise the stride-2 padding
	paperSeed      = 14 // torch.manual_seed of the weights and images
	paperLR        = 0.1
	paperBackbone  = 0.1 // train.backbone_lr_mult of the fine-tuning run
)

// TestPretrainedPaperPath is the paper's path through the real commands (issue 14): torchvision
// ResNet-18 weights with seeded random values, written by torch.save in the test, are
//
//   - fine-tuned by cmd/train into a csca-ResNet18 on the 3-class tiny benchmark (SGD, 2 epochs of one
//     step each, train.backbone_lr_mult 0.1), and the run must record the import exactly: every
//     backbone tensor of the file loaded (by torchvision name), the gates and the 3-class classifier
//     initialised (the file's 1000-class fc unused), the 20 num_batches_tracked counters skipped, the
//     file's sha256, in RUN/pretrained.json, summary.json's "pretrained" and the checkpoint's backbone
//     group;
//   - exported by cmd/export -weights -labels (1000 classes, no dataset) as a none model whose logits
//     on the oracle's images must be torchvision's, and as a csca model (residual gates, logit 6) whose
//     logits must be those of torchvision's network with every gated residual branch scaled by the
//     documented constant 1+σ(−6);
//   - compared, after the first SGD step, with a second run that differs only in
//     train.backbone_lr_mult 1: the backbone's change must be a tenth, the new layers' change the same.
func TestPretrainedPaperPath(t *testing.T) {
	trainBin, exportBin := command(t, "train"), command(t, "export") // skips under -short
	py := pyref.Torch(t)
	root := dataset(t)
	dir := t.TempDir()
	gate := 1 + sigmoid(-ops.GateInitLogit) // residual form, the default model.gate_form
	var oracle paperOracle
	out := pyref.Run(t, py, paperPathScript, dir, fmt.Sprint(paperImages), fmt.Sprint(paperImageSize), fmt.Sprint(paperSeed), strconv.FormatFloat(gate, 'g', -1, 64))
	if err := json.Unmarshal(out, &oracle); err != nil {
		t.Fatalf("oracle output: %v", err)
	}
	pth := filepath.Join(dir, "resnet18.pth")
	sum := sha256.Sum256(mustRead(t, pth))
	sha := hex.EncodeToString(sum[:])

	// The fine-tuning runs: the tiny configuration at torchvision's width, one step an epoch (batch 30
	// of the 30 training images), a constant learning rate without warm-up, so that the first step of
	// both runs starts from the same weights with the same gradients and learning rate.
	cfg := writeConfig(t, dir, "finetune.yaml", tinyConfig(root, 2))
	args := func(run string, mult float64) []string {
		return []string{"-config", cfg, "-out", filepath.Join(dir, run),
			"-set", "model.width_multiplier=1", "-set", "model.pretrained=" + pth,
			"-set", "train.optimizer=sgd", "-set", fmt.Sprintf("train.lr=%g", paperLR),
			"-set", fmt.Sprintf("train.backbone_lr_mult=%g", mult),
			"-set", "train.batch_size=30", "-set", "train.schedule=constant", "-set", "train.warmup_epochs=0",
			"-set", "log.cam_images=0", "-set", "log.tensorboard=false"}
	}
	runA := start(t, trainBin, args("tenth", paperBackbone), "", childEnv())
	runB := start(t, trainBin, args("full", 1), "", childEnv())
	exports := map[string]string{}
	t.Run("export", func(t *testing.T) {
		labels := make([]string, 1000)
		for k := range labels {
			labels[k] = fmt.Sprintf("imagenet_%03d", k)
		}
		labelsFile := writeConfig(t, dir, "labels.txt", strings.Join(labels, "\n")+"\n")
		ecfg := writeConfig(t, dir, "export.yaml", fmt.Sprintf("model:\n  attention: none\n  depth: 18\n  width_multiplier: 1\n  gate_form: residual\n  gate_init_logit: %g\ndata:\n  image_size: %d\n",
			ops.GateInitLogit, paperImageSize))
		for _, kind := range []string{"none", "csca"} {
			exports[kind] = filepath.Join(dir, "export-"+kind)
			code, out := runCmd(t, exportBin, []string{"-config", ecfg, "-set", "model.attention=" + kind, "-weights", pth,
				"-labels", labelsFile, "-out", exports[kind]}, childEnv())
			noPanic(t, out)
			if code != 0 {
				t.Fatalf("cmd/export of the %s model: exit status %d\n%s", kind, code, out)
			}
		}
	})
	codeA, outA := runA.wait()
	codeB, outB := runB.wait()
	for _, r := range []struct {
		name string
		code int
		out  string
	}{{"backbone_lr_mult 0.1", codeA, outA}, {"backbone_lr_mult 1", codeB, outB}} {
		noPanic(t, r.out)
		if r.code != 0 {
			t.Fatalf("cmd/train with %s: exit status %d\n%s", r.name, r.code, r.out)
		}
		if !strings.Contains(r.out, "1 steps/epoch × 2 epochs") {
			t.Fatalf("cmd/train with %s: want 1 step an epoch for 2 epochs (batch 30 of the tiny benchmark's training split); the output says otherwise:\n%s", r.name, r.out)
		}
	}

	t.Run("import_recorded", func(t *testing.T) {
		checkImportRecord(t, filepath.Join(dir, "tenth"), pth, sha, oracle.Keys, outA)
	})
	t.Run("step0_logits", func(t *testing.T) {
		if len(exports) != 2 {
			t.Skip("the exports failed")
		}
		checkExportedLogits(t, exports["none"], oracle.Images, oracle.Logits, oracle.Logits, "torchvision's logits")
		checkExportedLogits(t, exports["csca"], oracle.Images, oracle.Scaled, oracle.Logits,
			fmt.Sprintf("torchvision's logits with every gated residual branch scaled by 1+σ(−%g) = %.6f", ops.GateInitLogit, gate))
	})
	t.Run("backbone_lr", func(t *testing.T) {
		checkFirstStep(t, filepath.Join(dir, "tenth"), filepath.Join(dir, "full"), pth)
	})
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// checkImportRecord compares the import record of a run with the file: pretrained.json, summary.json's
// "pretrained", the first checkpoint's backbone group and the log line.
func checkImportRecord(t *testing.T, run, pth, sha string, keys []string, out string) {
	p, err := train.ReadPretrained(run)
	if err != nil || p == nil {
		t.Fatalf("RUN/pretrained.json: %v (nil: %v)", err, p == nil)
	}
	if p.Spec != pth || p.File != pth || p.SHA256 != sha || !p.Strict || p.Format != "torch.save zip" {
		t.Errorf("pretrained.json: spec %q file %q sha256 %s strict %v format %q\nwant spec and file %q, sha256 %s (computed here), strict, torch.save zip",
			p.Spec, p.File, p.SHA256, p.Strict, p.Format, pth, sha)
	}
	// Loaded, by torchvision name, must be every tensor of the file but the classifier and the counters.
	var wantLoaded, wantSkipped, gotLoaded []string
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, ".num_batches_tracked"):
			wantSkipped = append(wantSkipped, k)
		case !strings.HasPrefix(k, "fc."):
			wantLoaded = append(wantLoaded, k)
		}
	}
	for _, v := range p.Loaded {
		name, ok := nets.TorchName(v)
		if !ok || strings.Contains(v, "/csca/") || strings.HasPrefix(v, "fc/") {
			t.Errorf("pretrained.json lists %s as loaded: not a backbone variable", v)
		}
		gotLoaded = append(gotLoaded, name)
	}
	if a, b := sorted(gotLoaded), sorted(wantLoaded); !slices.Equal(a, b) {
		t.Errorf("pretrained.json's loaded variables, as torchvision names, differ from the file's backbone tensors:\n only loaded: %v\n only in the file: %v",
			minus(a, b), minus(b, a))
	}
	if a, b := sorted(p.Skipped), sorted(wantSkipped); !slices.Equal(a, b) || len(b) != 20 {
		t.Errorf("pretrained.json skipped %v, want the file's 20 num_batches_tracked counters %v", a, b)
	}
	if !slices.Equal(sorted(p.Unused), []string{"fc.bias", "fc.weight"}) {
		t.Errorf("pretrained.json unused %v, want the file's 1000-class classifier [fc.bias fc.weight]", p.Unused)
	}
	// Initialised must be exactly the model's variables that were not loaded: the gates and the new
	// 3-class classifier.
	cfg, err := train.Load(train.LoadOptions{Path: filepath.Join(run, "config.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := train.BuildInferenceGraph(cfg, tinyClasses, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wantInit []string
	for _, v := range tg.G.Variables() {
		if !slices.Contains(p.Loaded, v.Name) {
			wantInit = append(wantInit, v.Name)
		}
	}
	var gates int
	for _, v := range p.Initialised {
		if strings.Contains(v, "/csca/") {
			gates++
		} else if v != "fc/kernel" && v != "fc/bias" {
			t.Errorf("pretrained.json lists %s as initialised: neither a gate nor the classifier", v)
		}
	}
	if a, b := sorted(p.Initialised), sorted(wantInit); !slices.Equal(a, b) || gates == 0 || !slices.Contains(a, "fc/kernel") || !slices.Contains(a, "fc/bias") {
		t.Errorf("pretrained.json initialised %d variables (%d gate variables), want the model's %d that the file does not fill (gates, fc/kernel, fc/bias):\n only listed: %v\n only in the model: %v",
			len(a), gates, len(b), minus(a, b), minus(b, a))
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "1000 classes") && strings.Contains(n, "3") }) {
		t.Errorf("pretrained.json notes %q: want one saying the file's classifier has 1000 classes and the model's 3", p.Notes)
	}

	var summary struct {
		Pretrained *train.PretrainedSummary `json:"pretrained"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(run, "summary.json")), &summary); err != nil {
		t.Fatal(err)
	}
	if s := summary.Pretrained; s == nil {
		t.Error(`summary.json has no "pretrained"`)
	} else if s.SHA256 != sha || s.Spec != pth || s.Loaded != len(p.Loaded) || !slices.Equal(s.Initialised, p.Initialised) || s.Skipped != 20 || !s.Strict {
		t.Errorf(`summary.json's "pretrained": sha256 %s spec %q loaded %d initialised %d skipped %d strict %v; want sha256 %s, spec %q, loaded %d, pretrained.json's %d initialised, 20 skipped, strict`,
			s.SHA256, s.Spec, s.Loaded, len(s.Initialised), s.Skipped, s.Strict, sha, pth, len(p.Loaded), len(p.Initialised))
	}
	ck, err := train.RunCheckpoint(run, "ckpt-000000001")
	if err != nil {
		t.Fatal(err)
	}
	st, err := train.ReadState(ck)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(st.Backbone), sorted(p.Loaded)) {
		t.Errorf("the checkpoint's backbone group (%d variables) is not pretrained.json's loaded list (%d)", len(st.Backbone), len(p.Loaded))
	}
	if want := fmt.Sprintf("loaded %d variables from %s (sha256 %.12s…); %d new ones (backbone lr ×0.1)", len(wantLoaded), pth, sha, len(wantInit)); !strings.Contains(out, want) {
		t.Errorf("cmd/train's output lacks %q:\n%s", want, out)
	}
}

// checkExportedLogits loads a SavedModel and requires its logits (images signature, 0..255 RGB) to equal
// want within 1e-4 of want's largest magnitude (nets' TestTorchvisionLogits tolerance; float32
// accumulation gives about 2.5e-6 of 4 here), and its probabilities to be want's softmax within 1e-5
// absolute (a logit error of 1e-4 × 4 moves a probability by at most about 2e-4 × p). base
// is the unscaled network's logits: when want differs from it, the test also requires the distance to
// base to be at least 10 times the tolerance, so that the check can tell the constant from 1.
func checkExportedLogits(t *testing.T, dir string, images []float32, want, base []float64, what string) {
	t.Helper()
	m, err := exported.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.NumClasses() != 1000 || m.InputSize() != paperImageSize {
		t.Fatalf("%s: %d classes, input %d; want 1000 and %d", dir, m.NumClasses(), m.InputSize(), paperImageSize)
	}
	pred, err := m.Predict(context.Background(), exported.Images{N: paperImages, Height: paperImageSize, Width: paperImageSize, Pix: images})
	if err != nil {
		t.Fatal(err)
	}
	var got, probs []float64
	for i := range pred.Logits {
		for k := range pred.Logits[i] {
			got = append(got, float64(pred.Logits[i][k]))
			probs = append(probs, float64(pred.Probabilities[i][k]))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", dir, len(got), len(want))
	}
	delta, scale, at := 0.0, 0.0, 0
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > delta {
			delta, at = d, i
		}
		scale = math.Max(scale, math.Abs(want[i]))
	}
	t.Logf("%s: max |Δ| %.3g (image %d, class %d) against %s; logits up to %.3g", filepath.Base(dir), delta, at/1000, at%1000, what, scale)
	if delta > 1e-4*scale {
		t.Errorf("%s: logit of image %d, class %d is %.6g, want %.6g (%s): max |Δ| %.3g exceeds 1e-4 × %.3g",
			filepath.Base(dir), at/1000, at%1000, got[at], want[at], what, delta, scale)
	}
	var pdelta float64
	for i := 0; i < len(want); i += 1000 {
		softmax := make([]float64, 1000)
		var z float64
		for k := range softmax {
			softmax[k] = math.Exp(want[i+k] - want[i])
			z += softmax[k]
		}
		for k := range softmax {
			pdelta = math.Max(pdelta, math.Abs(probs[i+k]-softmax[k]/z))
		}
	}
	if pdelta > 1e-5 {
		t.Errorf("%s: probabilities differ from the softmax of %s by up to %.3g, want <= 1e-5", filepath.Base(dir), what, pdelta)
	}
	if slices.Equal(want, base) {
		return
	}
	var apart float64
	for i := range want {
		apart = math.Max(apart, math.Abs(want[i]-base[i]))
	}
	t.Logf("%s: the scaled and unscaled references are %.3g apart (%.0f× the tolerance)", filepath.Base(dir), apart, apart/(1e-4*scale))
	if apart < 10*1e-4*scale {
		t.Errorf("the gate constant moves torchvision's logits by only %.3g, less than 10× the tolerance 1e-4 × %.3g: the check cannot tell it from 1", apart, scale)
	}
}

// checkFirstStep compares the first SGD step of two runs that differ only in train.backbone_lr_mult
// (paperBackbone in tenth, 1 in full). Both start from the same weights (the file, and seeded gates and
// classifier), compute the same gradient g on the same batch and, the momentum buffer being zero,
// update w ← w − η·(g + λw) with η = lr·mult for the backbone and lr for the new layers. So, with w0 the
// imported weights:
//
//   - trainable backbone variables: tenth − w0 = mult × (full − w0), element by element, up to the
//     float32 rounding of the stored weights: each of the two stored values is within half an ulp of
//     the exact update, so |Δtenth − mult·Δfull| ≤ (1 + mult)/2·ulp(w) + 1e-5·|Δtenth| per element (the
//     relative term covers float32(lr·mult) ≠ mult·float32(lr) and an accumulation order that may differ);
//   - new layers (gates, classifier): equal in both runs, within 1e-6 of their change (bitwise in
//     practice: deterministic kernels, same inputs);
//   - BN running statistics: equal in both runs (they follow the batch, not the learning rate).
//
// The overall ratio ‖Δtenth‖/‖Δfull‖ of the backbone is logged with the second checkpoint's, where the
// trajectories have parted and 0.1 holds only roughly.
func checkFirstStep(t *testing.T, tenth, full, pth string) {
	p, err := train.ReadPretrained(tenth)
	if err != nil || p == nil {
		t.Fatalf("RUN/pretrained.json: %v", err)
	}
	cfg, err := train.Load(train.LoadOptions{Path: filepath.Join(tenth, "config.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := train.BuildInferenceGraph(cfg, tinyClasses, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}.NewSession(tg.G.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	read := func() map[string][]float32 {
		vars := tg.G.Variables()
		outs := make([]tf.Output, len(vars))
		for i, v := range vars {
			outs[i] = v.Value
		}
		res, err := sess.Run(nil, outs, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]float32{}
		for i, v := range vars {
			m[v.Name] = flatten(res[i].Value())
		}
		return m
	}
	restore := func(run, ckpt string) map[string][]float32 {
		ck, err := train.RunCheckpoint(run, ckpt)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.Saver.RestoreFrom(sess, filepath.Join(ck, "model")); err != nil {
			t.Fatal(err)
		}
		return read()
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Import(sess, tg.G, pth, nets.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	w0 := read()
	a1, b1 := restore(tenth, "ckpt-000000001"), restore(full, "ckpt-000000001")
	a2, b2 := restore(tenth, "ckpt-000000002"), restore(full, "ckpt-000000002")

	var backbone, stats, fresh int
	var freshBad []string
	var worst, worstBound float64
	var worstName string
	var normA, normB, normA2, normB2, normNew float64
	for _, v := range tg.G.Variables() {
		name, w, a, b := v.Name, w0[v.Name], a1[v.Name], b1[v.Name]
		loaded := slices.Contains(p.Loaded, name)
		switch {
		case loaded && !v.Trainable:
			stats++
			if i := firstDiff(a, b, 0); i >= 0 {
				t.Errorf("%s[%d] after the first step: %g with backbone_lr_mult %g, %g with 1; BN statistics must not depend on the learning rate", name, i, a[i], paperBackbone, b[i])
			}
		case loaded:
			backbone++
			for i := range w {
				da, db := float64(a[i])-float64(w[i]), float64(b[i])-float64(w[i])
				normA, normB = normA+da*da, normB+db*db
				ea, eb := float64(a2[name][i])-float64(w[i]), float64(b2[name][i])-float64(w[i])
				normA2, normB2 = normA2+ea*ea, normB2+eb*eb
				bound := (1+paperBackbone)/2*ulp32(max(abs32(w[i]), abs32(a[i]), abs32(b[i]))) + 1e-5*math.Abs(da)
				if d := math.Abs(da - paperBackbone*db); d/bound > worst {
					worst, worstBound, worstName = d/bound, bound, fmt.Sprintf("%s[%d]: w0 %g, change %g with backbone_lr_mult %g and %g with 1", name, i, w[i], da, paperBackbone, db)
				}
			}
		default: // gates and the classifier, at train.lr in both runs
			fresh++
			var dn, dd float64
			for i := range a {
				d := float64(a[i]) - float64(w[i])
				dn += d * d
				dd = math.Max(dd, math.Abs(float64(a[i])-float64(b[i])))
			}
			if v.Trainable {
				normNew += dn
			}
			if dd > 1e-6*math.Sqrt(dn) {
				freshBad = append(freshBad, fmt.Sprintf("%s by up to %.3g (its change %.3g)", name, dd, math.Sqrt(dn)))
			}
		}
	}
	if backbone == 0 || stats == 0 || fresh == 0 {
		t.Fatalf("%d trainable backbone variables, %d BN statistics, %d new-layer variables: want some of each", backbone, stats, fresh)
	}
	if len(freshBad) > 0 {
		t.Errorf("%d of %d new-layer variables differ after the first step between backbone_lr_mult %g and 1; the new layers must train at train.lr whatever the multiplier: %s",
			len(freshBad), fresh, paperBackbone, strings.Join(freshBad[:min(4, len(freshBad))], "; "))
	}
	t.Logf("first step: backbone ‖Δ‖ %.4g with backbone_lr_mult %g, %.4g with 1 (ratio %.6f); trainable new layers ‖Δ‖ %.4g in both; worst backbone element at %.2f of its rounding bound (%s); after the second step the ratio is %.4f",
		math.Sqrt(normA), paperBackbone, math.Sqrt(normB), math.Sqrt(normA/normB), math.Sqrt(normNew), worst, worstName, math.Sqrt(normA2/normB2))
	if normB == 0 || normNew == 0 {
		t.Fatalf("the first step changed nothing (backbone ‖Δ‖ %g, new layers ‖Δ‖ %g)", math.Sqrt(normB), math.Sqrt(normNew))
	}
	if worst > 1 {
		t.Errorf("the backbone's first-step change is not %g × the change at backbone_lr_mult 1: %s; |Δ − %g·Δ1| exceeds the float32 rounding bound %.3g by %.1f×",
			paperBackbone, worstName, paperBackbone, worstBound, worst)
	}
}

func flatten(v any) []float32 {
	switch x := v.(type) {
	case float32:
		return []float32{x}
	case []float32:
		return x
	case [][]float32:
		var out []float32
		for _, r := range x {
			out = append(out, r...)
		}
		return out
	case [][][][]float32:
		var out []float32
		for _, a := range x {
			for _, b := range a {
				for _, c := range b {
					out = append(out, c...)
				}
			}
		}
		return out
	}
	panic(fmt.Sprintf("unexpected variable value %T", v))
}

// firstDiff is the first index where a and b differ by more than tol, or -1.
func firstDiff(a, b []float32, tol float64) int {
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return i
		}
	}
	return -1
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// ulp32 is the spacing of float32 values at |x|.
func ulp32(x float32) float64 {
	return float64(math.Nextafter32(x, float32(math.Inf(1))) - x)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// minus lists the elements of a that b lacks.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
