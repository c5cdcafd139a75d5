package exported_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
)

// smallModel is a conv -> batch norm -> relu -> pool -> dense classifier built from ops layers, with a
// serving_default signature over an images placeholder [N, 8, 8, 3].
func smallModel(t *testing.T, seed int64) (*ops.Graph, exported.Signature) {
	t.Helper()
	g := ops.NewGraph(seed)
	var sig exported.Signature
	err := ops.Catch("small model", g, func() error {
		images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 8, 8, 3)))
		s := g.Head("serve", false)
		h := ops.Conv2D(s.Sub("conv"), images, 4, 3, 1, 1, false)
		h = ops.BatchNorm(s.Sub("bn"), h, ops.DefaultBatchNorm())
		h = ops.ReLU(s, h)
		logits := ops.Dense(s.Sub("fc"), ops.GlobalAvgPool(s, h), 5, true)
		sig = exported.Signature{
			Inputs:  map[string]tf.Output{"images": images},
			Outputs: map[string]tf.Output{"logits": logits, "probabilities": op.Softmax(s.Op(), logits)},
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, sig
}

// perturbedSession initialises every variable and then overwrites it with random values, so that a
// model restored from its checkpoint cannot agree with a fresh initialisation by accident.
func perturbedSession(t *testing.T, g *ops.Graph, rng *rand.Rand) *tf.Session {
	t.Helper()
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Variables() {
		n := 1
		for _, d := range v.Shape {
			n *= int(d)
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64())
			if v.Name == "bn/moving_variance" {
				vals[i] = 0.5 + rng.Float32()
			}
		}
		tv, err := tf.NewTensor(vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := tv.Reshape(v.Shape); err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: tv}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
			t.Fatal(err)
		}
	}
	return sess
}

func randomImages(rng *rand.Rand, n, h, w int) [][][][]float32 {
	x := make([][][][]float32, n)
	for i := range x {
		x[i] = make([][][]float32, h)
		for j := range x[i] {
			x[i][j] = make([][]float32, w)
			for k := range x[i][j] {
				x[i][j][k] = []float32{255 * rng.Float32(), 255 * rng.Float32(), 255 * rng.Float32()}
			}
		}
	}
	return x
}

func flat32(v any) []float32 {
	switch x := v.(type) {
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
	panic("flat32: unsupported type")
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// writeRaw writes images as little-endian float32 for the Python script.
func writeRaw(t testing.TB, path string, images [][][][]float32) {
	t.Helper()
	data := flat32(images)
	b := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type pyOutput struct {
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

func pyRun(t *testing.T, args ...string) map[string]map[string]pyOutput {
	t.Helper()
	py := pyref.TensorFlow(t)
	var out map[string]map[string]pyOutput
	if err := json.Unmarshal(pyref.Run(t, py, pyScript(t), args...), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// pyScript is the text of testdata/tfsavedmodel.py, the Python TensorFlow side of the checks.
func pyScript(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tfsavedmodel.py"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestWriteLoadGoAndPython writes a SavedModel from Go and loads it back with tf.LoadSavedModel and
// with Python's tf.saved_model.load; both must reproduce the live session's outputs.
func TestWriteLoadGoAndPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	g, sig := smallModel(t, 5)
	sess := perturbedSession(t, g, rng)
	images := randomImages(rng, 4, 8, 8)
	in, err := tf.NewTensor(images)
	if err != nil {
		t.Fatal(err)
	}
	live, err := sess.Run(map[tf.Output]*tf.Tensor{sig.Inputs["images"]: in}, []tf.Output{sig.Outputs["logits"], sig.Outputs["probabilities"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"logits": flat32(live[0].Value()), "probabilities": flat32(live[1].Value())}

	dir := filepath.Join(t.TempDir(), "model")
	err = exported.Write(dir, sess, exported.SavedModel{
		Graph:      g,
		Signatures: map[string]exported.Signature{"serving_default": sig},
		Assets:     map[string][]byte{"labels.txt": []byte("a\nb\nc\nd\ne\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001", "assets/labels.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("SavedModel lacks %s: %v", f, err)
		}
	}

	m, err := tf.LoadSavedModel(dir, []string{"serve"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Session.Close()
	s, ok := m.Signatures["serving_default"]
	if !ok {
		t.Fatalf("signatures %v lack serving_default", m.Signatures)
	}
	feed := map[tf.Output]*tf.Tensor{m.Graph.Operation(opName(t, s.Inputs["images"].Name)).Output(0): in}
	for _, name := range []string{"logits", "probabilities"} {
		o := m.Graph.Operation(opName(t, s.Outputs[name].Name)).Output(0)
		res, err := m.Session.Run(feed, []tf.Output{o}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(flat32(res[0].Value()), want[name]); d > 1e-6 {
			t.Errorf("Go loader %s differs from the live session by %.3g", name, d)
		}
	}

	if testing.Short() {
		t.Skip("the Python TensorFlow half runs without -short")
	}
	raw := filepath.Join(t.TempDir(), "images.f32")
	writeRaw(t, raw, images)
	py := pyRun(t, "run", dir, "--images", raw, "4", "8", "8")["serving_default"]
	for _, name := range []string{"logits", "probabilities"} {
		got := make([]float32, len(py[name].Values))
		for i, v := range py[name].Values {
			got[i] = float32(v)
		}
		d := maxAbsDiff(got, want[name])
		t.Logf("Python tf.saved_model.load %s: max |diff| %.3g", name, d)
		if d > 1e-6 {
			t.Errorf("Python %s differs from Go by %.3g (want <= 1e-6)", name, d)
		}
	}
}

func opName(t *testing.T, tensor string) string {
	t.Helper()
	for i := len(tensor) - 1; i >= 0; i-- {
		if tensor[i] == ':' {
			return tensor[:i]
		}
	}
	return tensor
}
