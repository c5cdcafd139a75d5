package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
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
	args := append(tinySets(3), "-set", "data.root="+filepath.Join(tmp, "no-dataset"), "-weights", file, "-out", out)
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
	if m.Label(1) != "class_1" || m.Metadata().Variant != "ca" {
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
		{nil, "exactly one of -checkpoint and -weights"},
		{[]string{"-checkpoint", "a", "-weights", "b", "-out", "c"}, "exactly one"},
		{[]string{"-weights", "b"}, "-out DIR is required"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("export %q: exit %d, %q", c.args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-checkpoint", filepath.Join(t.TempDir(), "none"), "-out", filepath.Join(t.TempDir(), "m")}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "no checkpoint at") {
		t.Errorf("missing checkpoint: exit %d, %q", code, stderr.String())
	}
}
