package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/train"
	"github.com/finegrain/finegrain/weights"
)

// tinySets configure a 1/8-width ResNet-18 on 32-pixel inputs.
func tinySets(classes int) []string {
	return []string{"-set", "model.depth=18", "-set", "model.width_multiplier=0.125", "-set", "model.attention=ca",
		"-set", fmt.Sprintf("model.num_classes=%d", classes), "-set", "data.image_size=32", "-set", "data.resize_size=36"}
}

// safetensors encodes float32 tensors in the safetensors format.
func safetensors(t *testing.T, tensors map[string][]float32, shapes map[string][]int) []byte {
	t.Helper()
	header := map[string]any{}
	var data []byte
	for name, vals := range tensors {
		start := len(data)
		for _, v := range vals {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[name] = map[string]any{"dtype": "F32", "shape": shapes[name], "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

func randomBatch(rng *rand.Rand, n int) exported.Images {
	im := exported.Images{N: n, Height: 32, Width: 32, Pix: make([]float32, n*32*32*3)}
	for i := range im.Pix {
		im.Pix[i] = 255 * rng.Float32()
	}
	return im
}

// TestExportWeights exports torchvision-named weights whose classifier is zero with bias (0, 5, 0): every
// image must then get softmax(0, 5, 0), which only holds if the file was imported.
func TestExportWeights(t *testing.T) {
	tmp := t.TempDir()
	const c = 64 // 512 channels at width 1/8
	file := filepath.Join(tmp, "w.safetensors")
	st := safetensors(t, map[string][]float32{"fc.weight": make([]float32, 3*c), "fc.bias": {0, 5, 0}},
		map[string][]int{"fc.weight": {3, c}, "fc.bias": {3}})
	if err := os.WriteFile(file, st, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "model")
	var stdout, stderr bytes.Buffer
	args := append(tinySets(3), "-set", "data.root="+filepath.Join(tmp, "no-dataset"), "-set", "model.pretrained_strict=false", "-weights", file, "-out", out) // a classifier-only file: a partial load, knowingly
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "class_0..class_2") {
		t.Errorf("stderr lacks the labels warning:\n%s", stderr.String())
	}
	m, err := exported.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := m.Predict(context.Background(), randomBatch(rand.New(rand.NewPCG(1, 2)), 2))
	if err != nil {
		t.Fatal(err)
	}
	e := math.Exp(5)
	want := []float64{1 / (2 + e), e / (2 + e), 1 / (2 + e)}
	for _, row := range p.Probabilities {
		for k := range want {
			if math.Abs(float64(row[k])-want[k]) > 1e-6 {
				t.Fatalf("probabilities %v, want %v", row, want)
			}
		}
	}
	var cfg map[string]any
	if err := json.Unmarshal(m.Metadata().Config, &cfg); err != nil || cfg["model"].(map[string]any)["attention"] != "ca" {
		t.Errorf("metadata config %s (%v)", m.Metadata().Config, err)
	}
	if m.Label(1) != "class_1" || m.Metadata().Net.Attention != nets.AttentionCA {
		t.Errorf("labels %v, metadata %+v", m.Labels(), m.Metadata())
	}
}

// TestExportCheckpoint saves a checkpoint of a graph built as training builds it (nets under a head,
// SaveV2 of every variable), exports it, and compares the SavedModel's outputs with the graph's.
func TestExportCheckpoint(t *testing.T) {
	tmp := t.TempDir()
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses, cfg.GateForm = "ca", 18, 0.125, 4, "residual"
	g := ops.NewGraph(3)
	var images, logits tf.Output
	err := ops.Catch("checkpoint graph", g, func() error {
		images = op.Placeholder(g.Root().SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 32, 32, 3)))
		out, err := nets.Build(g.Head("eval", false), images, cfg)
		logits = out.Logits
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sv := g.Saver()
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	// Batch-norm statistics away from (0, 1) so that a model that restored nothing cannot pass.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range g.Variables() {
		if !strings.HasSuffix(v.Name, "moving_mean") && !strings.HasSuffix(v.Name, "moving_variance") {
			continue
		}
		vals := make([]float32, v.Shape[0])
		for i := range vals {
			vals[i] = 0.2*float32(rng.NormFloat64()) + map[bool]float32{true: 1}[strings.HasSuffix(v.Name, "variance")]
		}
		tv, _ := tf.NewTensor(vals)
		if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: tv}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := filepath.Join(tmp, "ckpt", "model")
	if err := sv.SaveTo(sess, prefix); err != nil {
		t.Fatal(err)
	}
	batch := randomBatch(rng, 3)
	in, _ := tf.NewTensor(batch.Pix)
	in.Reshape([]int64{3, 32, 32, 3})
	ref, err := sess.Run(map[tf.Output]*tf.Tensor{images: in}, []tf.Output{logits}, nil)
	if err != nil {
		t.Fatal(err)
	}

	labels := filepath.Join(tmp, "labels.txt")
	os.WriteFile(labels, []byte("gull\ntern\nskua\npetrel\n"), 0o644)
	out := filepath.Join(tmp, "model")
	var stdout, stderr bytes.Buffer
	args := append(tinySets(4), "-set", "model.gate_form=residual", "-set", "data.root="+tmp, "-checkpoint", prefix, "-labels", labels, "-out", out)
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	m, err := exported.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := m.Predict(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	want := ref[0].Value().([][]float32)
	for i := range want {
		for k := range want[i] {
			if d := math.Abs(float64(p.Logits[i][k] - want[i][k])); d > 1e-5 {
				t.Fatalf("image %d class %d: exported logit %g, checkpoint graph %g", i, k, p.Logits[i][k], want[i][k])
			}
		}
	}
	if m.Label(3) != "petrel" {
		t.Errorf("labels %v", m.Labels())
	}

	// Exporting again into the now non-empty directory is refused.
	stderr.Reset()
	if code := run(context.Background(), args, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "not empty") {
		t.Errorf("second export: exit %d, %s", code, stderr.String())
	}
}

func TestExportUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "exactly one of -model and -weights"},
		{[]string{"-checkpoint", "a", "-weights", "b", "-out", "c"}, "exactly one"},
		{[]string{"-weights", "b"}, "-out DIR is required"},
		{[]string{"-model", "a", "-weights", "b", "-out", "c"}, "exactly one"},
		{[]string{"-model", "a", "-checkpoint", "b", "-out", "c"}, "-checkpoint is an alias of -model"},
		{[]string{"-model", "a", "-best", "-latest", "-out", "c"}, "-best and -latest exclude each other"},
		{[]string{"-weights", "b", "-latest", "-out", "c"}, "-latest chooses among the checkpoints of a run directory"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("export %q: exit %d, %q", c.args, code, stderr.String())
		}
	}
	// -checkpoint, the alias, names the same thing as -model.
	for _, name := range []string{"-model", "-checkpoint"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{name, filepath.Join(t.TempDir(), "none"), "-out", filepath.Join(t.TempDir(), "m")}, &stdout, &stderr)
		if code != exitFailed || !strings.Contains(stderr.String(), "no checkpoint at") {
			t.Errorf("%s of a missing checkpoint: exit %d, %q", name, code, stderr.String())
		}
	}
}

// TestExportTrainedRun trains a small model for one epoch on a generated dataset (package train), exports
// the run directory, and checks that the SavedModel reproduces the run's test top-1 when fed by the
// evaluation pipeline, and that predict_jpeg agrees with it on the test files.
func TestExportTrainedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	tmp := t.TempDir()
	cfgPath := filepath.Join(tmp, "tiny.yaml")
	yaml := fmt.Sprintf(`model: {attention: csca, depth: 18, width_multiplier: 0.125}
data:
  format: synthetic
  root: %s
  image_size: 32
  resize_size: 36
  val_fraction: 0
  synthetic: {classes: 4, per_class: 10, train_fraction: 0.5, image_size: 48}
train: {epochs: 2, batch_size: 8, selection: last, lr: 0.05, warmup_epochs: 0}
log: {tensorboard: false, cam_images: 0}
`, filepath.Join(tmp, "data"))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := train.Load(train.LoadOptions{Path: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(tmp, "run")
	summary, err := train.Run(context.Background(), cfg, train.Options{RunDir: runDir, Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(tmp, "export")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-model", runDir, "-out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	m, err := exported.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	md := m.Metadata()
	if md.Metrics["test_top1"] != summary.TestTop1 || md.Dataset != "synthetic" || md.ImageSize != 32 || md.ResizeSize != 36 {
		t.Errorf("metadata %+v, summary test_top1 %g", md, summary.TestTop1)
	}
	splits, err := train.IndexData(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), splits.Classes) {
		t.Errorf("labels %v, dataset classes %v", m.Labels(), splits.Classes)
	}

	pcfg := pipeline.DefaultConfig()
	pcfg.ImageSize, pcfg.ResizeSize, pcfg.ScaledDecode = 32, 36, false
	images := exported.Images{Height: 32, Width: 32}
	var encoded [][]byte
	var labels []int
	for _, r := range splits.Test {
		b, err := os.ReadFile(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		pix, err := pipeline.EvalEncoded(b, pcfg)
		if err != nil {
			t.Fatal(err)
		}
		images.Pix, images.N = append(images.Pix, pix...), images.N+1
		encoded, labels = append(encoded, b), append(labels, r.Label)
	}
	ctx := context.Background()
	viaPipeline, err := m.Predict(ctx, images)
	if err != nil {
		t.Fatal(err)
	}
	inGraph, err := m.PredictEncoded(ctx, encoded)
	if err != nil {
		t.Fatal(err)
	}
	hits, agree, worst := 0, 0, 0.0
	for i, y := range labels {
		a, b := m.TopK(viaPipeline.Probabilities[i], 1)[0].ID, m.TopK(inGraph.Probabilities[i], 1)[0].ID
		if a == y {
			hits++
		}
		if a == b {
			agree++
		}
		for k := range viaPipeline.Probabilities[i] {
			worst = math.Max(worst, math.Abs(float64(viaPipeline.Probabilities[i][k]-inGraph.Probabilities[i][k])))
		}
	}
	top1 := float64(hits) / float64(len(labels))
	t.Logf("%d test images: exported top-1 %.4f (run's summary %.4f); predict_jpeg agrees on %d, max |Δp| %.3g", len(labels), top1, summary.TestTop1, agree, worst)
	if math.Abs(top1-summary.TestTop1) > 1e-9 {
		t.Errorf("exported model's test top-1 %.4f, the run's summary says %.4f", top1, summary.TestTop1)
	}
	if worst > 1e-3 {
		t.Errorf("predict_jpeg and the pipeline-fed model differ by %.3g in probability (want <= 1e-3)", worst)
	}

	// Python TensorFlow on the same SavedModel, images and files.
	py := pyref.TensorFlow(t)
	root, err := pyref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "exported", "testdata", "tfsavedmodel.py"))
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(tmp, "images.f32")
	var rawBytes []byte
	for _, v := range images.Pix {
		rawBytes = binary.LittleEndian.AppendUint32(rawBytes, math.Float32bits(v))
	}
	if err := os.WriteFile(raw, rawBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", out, "--images", raw, strconv.Itoa(images.N), "32", "32", "--files"}
	for _, r := range splits.Test {
		args = append(args, r.Path)
	}
	var pyOut map[string]map[string]struct {
		Values []float64 `json:"values"`
	}
	if err := json.Unmarshal(pyref.Run(t, py, string(script), args...), &pyOut); err != nil {
		t.Fatal(err)
	}
	for sig, got := range map[string]*exported.Prediction{exported.ServingDefault: viaPipeline, exported.PredictJPEG: inGraph} {
		want := pyOut[sig]["probabilities"].Values
		d, i := 0.0, 0
		for _, row := range got.Probabilities {
			for _, v := range row {
				d = math.Max(d, math.Abs(float64(v)-want[i]))
				i++
			}
		}
		t.Logf("%s: Go vs Python TensorFlow probabilities max |diff| %.3g", sig, d)
		if i != len(want) || d > 1e-5 {
			t.Errorf("%s: Go and Python probabilities differ by %.3g (%d vs %d values; want <= 1e-5)", sig, d, i, len(want))
		}
	}
}

// TestExportRecordsTheResize: with data.image_size alone the exported model resizes to 8/7 of it (not
// to 512 whatever the crop), and its metadata says so, as a number and in the recorded configuration.
func TestExportRecordsTheResize(t *testing.T) {
	tmp := t.TempDir()
	const c = 64 // 512 channels at width 1/8
	file := filepath.Join(tmp, "w.safetensors")
	st := safetensors(t, map[string][]float32{"fc.weight": make([]float32, 3*c), "fc.bias": {0, 0, 0}},
		map[string][]int{"fc.weight": {3, c}, "fc.bias": {3}})
	if err := os.WriteFile(file, st, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sets []string
		want int
	}{
		{nil, 36},
		{[]string{"-set", "data.resize_size=48"}, 48},
	}
	for i, tc := range tests {
		out := filepath.Join(tmp, fmt.Sprint("model", i))
		args := []string{"-set", "model.depth=18", "-set", "model.width_multiplier=0.125", "-set", "model.attention=ca", "-set", "model.num_classes=3",
			"-set", "data.image_size=32", "-set", "data.root=" + filepath.Join(tmp, "no-dataset")}
		args = append(append(args, tc.sets...), "-set", "model.pretrained_strict=false", "-weights", file, "-out", out)
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("%q: exit %d:\n%s", tc.sets, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), fmt.Sprintf("input 32, resize %d", tc.want)) {
			t.Errorf("%q: stdout %q does not state resize %d", tc.sets, stdout.String(), tc.want)
		}
		m, err := exported.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		md := m.Metadata()
		m.Close()
		var cfg struct {
			Data struct {
				ResizeSize int `json:"resize_size"`
			} `json:"data"`
		}
		if err := json.Unmarshal(md.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if md.ImageSize != 32 || md.ResizeSize != tc.want || cfg.Data.ResizeSize != tc.want {
			t.Errorf("%q: metadata image %d resize %d, recorded data.resize_size %d; want 32, %d, %d", tc.sets, md.ImageSize, md.ResizeSize, cfg.Data.ResizeSize, tc.want, tc.want)
		}
	}
}

// TestExportWeightsWithLabels: exporting weights with -labels reads no dataset (data.root may be
// unset), and a label count that differs from the file's classifier is refused unless -fresh-head.
func TestExportWeightsWithLabels(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "w.safetensors")
	writeResNetWeights(t, file, 3)
	labels := func(n int) string {
		p := filepath.Join(tmp, fmt.Sprintf("labels%d.txt", n))
		var b strings.Builder
		for k := range n {
			fmt.Fprintf(&b, "species %d\n", k)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name  string
		extra []string
		ok    bool
		want  string
	}{
		{"labels, no dataset", []string{"-labels", labels(3)}, true, ""},
		{"more labels than the classifier", []string{"-labels", labels(4)}, false, "fresh-head"},
		{"a fresh head on purpose", []string{"-labels", labels(4), "-fresh-head"}, true, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(tmp, fmt.Sprintf("model%d", i))
			args := append(tinySets(0), "-set", "data.root=", "-weights", file, "-out", out)
			args = append(args, tc.extra...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if (code == exitOK) != tc.ok {
				t.Fatalf("exit %d, want success %v:\n%s", code, tc.ok, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// writeResNetWeights writes the weights of a freshly initialised model of tinySets' architecture with a
// plain ResNet and classes outputs, under torchvision's names: a complete file a strict import takes.
func writeResNetWeights(t *testing.T, path string, classes int) {
	t.Helper()
	net := nets.DefaultConfig()
	net.Depth, net.WidthMultiplier, net.NumClasses = 18, 0.125, classes
	g := ops.NewGraph(1)
	err := ops.Catch("weights", g, func() error {
		images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 32, 32, 3)))
		_, err := nets.Build(g.Head("eval", false), images, net)
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
	ts, err := nets.ExportTorchvision(sess, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteSafetensors(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}
