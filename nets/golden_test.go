package nets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from the graphs this code builds")

// goldenTolerance is the relative error allowed when the golden files were recorded on another CPU or
// TensorFlow build. oneDNN picks its kernels (and with them the order of the float32 sums in convolutions
// and matrix products) by the CPU's instruction sets, so bit-identity only holds on the CPU that recorded
// them; a few float32 roundings per layer through 18 layers stay far below 1e-4 of the values' scale,
// while any change to what the graph computes moves them by much more.
const goldenTolerance = 1e-4

// goldenCases cover every variant, both gate forms and both channel-spatial fusions, with basic blocks;
// two bottleneck cases cover the other block.
var goldenCases = []struct {
	attention Attention
	form      GateForm
	fusion    CSCAFusion
	depth     int
}{
	{"none", "plain", "parallel", 18},
	{"fcn", "plain", "parallel", 18},
	{"ca", "plain", "parallel", 18},
	{"ca", "residual", "parallel", 18},
	{"sa", "plain", "parallel", 18},
	{"sa", "residual", "parallel", 18},
	{"csca", "plain", "parallel", 18},
	{"csca", "residual", "parallel", 18},
	{"csca", "plain", "sequential", 18},
	{"csca", "residual", "sequential", 18},
	{"none", "plain", "parallel", 50},
	{"csca", "residual", "parallel", 50},
}

// golden is what a small seeded model computes on a fixed seeded batch: its outputs as float32 bits, and
// for the gradients and the moving averages after one training step a SHA-256 of their bits with
// per-variable sums for the comparison on another CPU.
type golden struct {
	CPU        string               `json:"cpu"`        // what decides oneDNN's kernels: model name and flags' hash
	TensorFlow string               `json:"tensorflow"` // the library's version
	Outputs    map[string][]string  `json:"outputs"`    // eval logits, eval CAM, train logits, loss: hex float32 bits
	Gradients  string               `json:"gradients_sha256"`
	Moving     string               `json:"moving_sha256"`
	Sums       map[string]goldenSum `json:"sums"` // per gradient ("grad:" name) and moving average ("moving:" name)
}

type goldenSum struct {
	Sum    float64 `json:"sum"`
	AbsSum float64 `json:"abs_sum"`
}

// TestGoldenOutputs checks that each variant's graph computes what the graphs recorded in
// testdata/golden computed (recorded before ops named its ops through tfgo): bit for bit on the CPU and
// TensorFlow build that recorded them, within goldenTolerance elsewhere.
func TestGoldenOutputs(t *testing.T) {
	cpu := cpuFeatures()
	for _, tc := range goldenCases {
		name := fmt.Sprintf("%s_%s_%s_%d", tc.attention, tc.form, tc.fusion, tc.depth)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && tc.depth == 50 {
				t.Skip("-short leaves out the bottleneck cases")
			}
			cfg := DefaultConfig()
			cfg.Attention, cfg.GateForm, cfg.CSCAFusion, cfg.Depth = tc.attention, tc.form, tc.fusion, tc.depth
			cfg.NumClasses, cfg.WidthMultiplier, cfg.Reduction, cfg.Dropout, cfg.GateInitLogit = 5, 0.0625, 4, 0.2, 1
			got := computeGolden(t, cfg)
			got.CPU, got.TensorFlow = cpu, tf.Version()
			path := filepath.Join("testdata", "golden", name+".json")
			if *updateGolden {
				b, err := json.MarshalIndent(got, "", "\t")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (record with -update-golden)", err)
			}
			var want golden
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if want.CPU == got.CPU && want.TensorFlow == got.TensorFlow {
				compareGoldenBits(t, got, want)
				return
			}
			t.Logf("%s was recorded on %q with TensorFlow %s, this is %q with %s: comparing within %g",
				path, want.CPU, want.TensorFlow, got.CPU, got.TensorFlow, goldenTolerance)
			compareGoldenClose(t, got, want)
		})
	}
}

func compareGoldenBits(t *testing.T, got, want golden) {
	t.Helper()
	for k, w := range want.Outputs {
		if g := got.Outputs[k]; strings.Join(g, " ") != strings.Join(w, " ") {
			t.Errorf("%s: bits %v, want %v", k, g, w)
		}
	}
	if got.Gradients != want.Gradients {
		t.Errorf("gradients: SHA-256 %s, want %s", got.Gradients, want.Gradients)
	}
	if got.Moving != want.Moving {
		t.Errorf("moving averages: SHA-256 %s, want %s", got.Moving, want.Moving)
	}
	if len(got.Sums) != len(want.Sums) {
		t.Errorf("%d gradients and moving averages, want %d", len(got.Sums), len(want.Sums))
	}
}

func compareGoldenClose(t *testing.T, got, want golden) {
	t.Helper()
	for k, w := range want.Outputs {
		g := got.Outputs[k]
		if len(g) != len(w) {
			t.Errorf("%s: %d values, want %d", k, len(g), len(w))
			continue
		}
		scale := 0.0
		for _, h := range w {
			scale = math.Max(scale, math.Abs(float64(fromHex(t, h))))
		}
		for i := range w {
			if d := math.Abs(float64(fromHex(t, g[i]) - fromHex(t, w[i]))); d > goldenTolerance*math.Max(scale, 1) {
				t.Errorf("%s[%d] = %g, want %g", k, i, fromHex(t, g[i]), fromHex(t, w[i]))
			}
		}
	}
	for k, w := range want.Sums {
		g, ok := got.Sums[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if d := math.Abs(g.Sum - w.Sum); d > goldenTolerance*math.Max(w.AbsSum, 1e-3) {
			t.Errorf("%s: sum %g, want %g", k, g.Sum, w.Sum)
		}
	}
}

// computeGolden builds cfg with an inference and a training head, moves every variable off its
// initialisation by seeded noise (gates start constant, which would leave their arithmetic untested),
// runs both heads on a seeded batch with one thread and records outputs, gradients and the moving
// averages after the training step's updates.
func computeGolden(t *testing.T, cfg Config) golden {
	t.Helper()
	heads := buildTwoHeads(t, 3, cfg, 0.1)
	g, train, eval, loss, grads, updates := heads.g, heads.train, heads.eval, heads.loss, heads.grads, heads.updates
	sess, err := ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}.NewSession(g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 3))
	perturbVariables(t, sess, g, rng)
	x := randomImages(t, rng)
	feeds := map[tf.Output]*tf.Tensor{heads.images: x}
	out := golden{Outputs: map[string][]string{}, Sums: map[string]goldenSum{}}
	res, err := sess.Run(feeds, []tf.Output{eval.Logits, eval.CAM}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Outputs["eval_logits"], out.Outputs["eval_cam"] = hexBits(res[0]), hexBits(res[1])
	res, err = sess.Run(feeds, append([]tf.Output{train.Logits, loss}, grads...), updates)
	if err != nil {
		t.Fatal(err)
	}
	out.Outputs["train_logits"], out.Outputs["loss"] = hexBits(res[0]), hexBits(res[1])
	trainable := g.Trainable()
	h := sha256.New()
	for i, r := range res[2:] {
		name := "grad:" + trainable[i].Name
		out.Sums[name] = sumBits(h, name, r)
	}
	out.Gradients = hex.EncodeToString(h.Sum(nil))
	var moving []*ops.Variable
	var values []tf.Output
	for _, v := range g.Variables() {
		if !v.Trainable {
			moving, values = append(moving, v), append(values, v.Value)
		}
	}
	if res, err = sess.Run(nil, values, nil); err != nil {
		t.Fatal(err)
	}
	h = sha256.New()
	for i, v := range moving {
		name := "moving:" + v.Name
		out.Sums[name] = sumBits(h, name, res[i])
	}
	out.Moving = hex.EncodeToString(h.Sum(nil))
	return out
}

// perturbVariables adds U(-0.2, 0.2) to every variable (|·| for moving variances, which stay positive),
// reading and assigning them all in one run each.
func perturbVariables(t *testing.T, sess *tf.Session, g *ops.Graph, rng *rand.Rand) {
	t.Helper()
	vars := g.Variables()
	values := make([]tf.Output, len(vars))
	for i, v := range vars {
		values[i] = v.Value
	}
	res, err := sess.Run(nil, values, nil)
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[tf.Output]*tf.Tensor{}
	var assign []*tf.Operation
	for i, v := range vars {
		vals := flatFloat32(res[i])
		for j := range vals {
			u := float32(0.4*rng.Float64() - 0.2)
			if strings.HasSuffix(v.Name, "moving_variance") {
				u = float32(math.Abs(float64(u)))
			}
			vals[j] += u
		}
		tv, err := tf.NewTensor(vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := tv.Reshape(v.Shape); err != nil {
			t.Fatal(err)
		}
		feeds[v.Feed] = tv
		assign = append(assign, v.AssignFeed)
	}
	if _, err := sess.Run(feeds, nil, assign); err != nil {
		t.Fatal(err)
	}
}

// flatFloat32 reads a float32 tensor's values in row-major order.
func flatFloat32(tv *tf.Tensor) []float32 {
	var buf bytes.Buffer
	if _, err := tv.WriteContentsTo(&buf); err != nil {
		return nil
	}
	b := buf.Bytes()
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}

func hexBits(tv *tf.Tensor) []string {
	vals := flatFloat32(tv)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprintf("%08x", math.Float32bits(v))
	}
	return out
}

func fromHex(t *testing.T, s string) float32 {
	t.Helper()
	var u uint32
	if _, err := fmt.Sscanf(s, "%x", &u); err != nil {
		t.Fatalf("golden value %q: %v", s, err)
	}
	return math.Float32frombits(u)
}

// sumBits writes name and the tensor's bits into h and returns its sums.
func sumBits(h interface{ Write([]byte) (int, error) }, name string, tv *tf.Tensor) goldenSum {
	var s goldenSum
	h.Write([]byte(name))
	for _, v := range flatFloat32(tv) {
		b := math.Float32bits(v)
		h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		s.Sum += float64(v)
		s.AbsSum += math.Abs(float64(v))
	}
	return s
}

// cpuFeatures names what oneDNN chooses its kernels by: the CPU's model name and a hash of its flags.
func cpuFeatures() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	var model, flags string
	for _, line := range strings.Split(string(b), "\n") {
		if model != "" && flags != "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "flags":
			flags = strings.TrimSpace(v)
		}
	}
	sum := sha256.Sum256([]byte(flags))
	return model + " flags:" + hex.EncodeToString(sum[:8])
}
