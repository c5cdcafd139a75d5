package ops_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
)

var gateCases = []struct{ kind, form, fusion string }{
	{"ca", "plain", ""},
	{"ca", "residual", ""},
	{"sa", "plain", ""},
	{"sa", "residual", ""},
	{"csca", "plain", "parallel"},
	{"csca", "residual", "parallel"},
	{"csca", "plain", "sequential"},
	{"csca", "residual", "sequential"},
}

// gateGraph builds the gate of one case on an input placeholder [2, 5, 6, 32], in a training head and
// an inference head sharing its variables; loss = Σ y_train·r for a fixed random r.
type gateGraph struct {
	g                  *ops.Graph
	x                  tf.Output
	yTrain, yEval      tf.Output
	loss               tf.Output
	grads              []tf.Output // d loss / d x, then one per trainable variable
	trainable          []*ops.Variable
	xShape             []int64
	r                  []float64
	cfg                ops.GateConfig
	kind, form, fusion string
}

func buildGate(t *testing.T, dtype tf.DataType, kind, form, fusion string, rng *rand.Rand) *gateGraph {
	t.Helper()
	return buildGateWith(t, dtype, kind, form, fusion, ops.GateInitLogit, rng)
}

// buildGateWith is buildGate with the gates' initial logit magnitude.
func buildGateWith(t *testing.T, dtype tf.DataType, kind, form, fusion string, initLogit float64, rng *rand.Rand) *gateGraph {
	t.Helper()
	gate, err := ops.NewGate(kind)
	if err != nil || gate == nil {
		t.Fatalf("NewGate(%q) = %v, %v", kind, gate, err)
	}
	cfg := ops.DefaultGateConfig()
	cfg.Form, cfg.Reduction, cfg.InitLogit = form, 8, initLogit
	if fusion != "" {
		cfg.Fusion = fusion
	}
	gg := &gateGraph{g: ops.NewGraphOf(dtype, 3), xShape: []int64{2, 5, 6, 32}, cfg: cfg, kind: kind, form: form, fusion: fusion}
	for range 2 * 5 * 6 * 32 {
		gg.r = append(gg.r, rng.NormFloat64())
	}
	err = ops.Catch("gate "+kind, gg.g, func() error {
		root := gg.g.Root()
		gg.x = op.Placeholder(root.SubScope("x"), dtype, op.PlaceholderShape(tf.MakeShape(gg.xShape...)))
		gg.yTrain = gate(gg.g.Head("train", true).Sub("g"), gg.x, cfg)
		gg.yEval = gate(gg.g.Head("eval", false).Sub("g"), gg.x, cfg)
		r := op.Const(root.SubScope("r"), gg.r)
		r = op.Reshape(root.SubScope("rshape"), op.Cast(root.SubScope("rcast"), r, dtype), op.Const(root.SubScope("shape"), gg.xShape))
		gg.loss = op.Sum(root.SubScope("loss"), op.Mul(root.SubScope("weigh"), gg.yTrain, r), op.Const(root.SubScope("axes"), []int32{0, 1, 2, 3}))
		gg.trainable = gg.g.Trainable()
		wrt := []tf.Output{gg.x}
		for _, v := range gg.trainable {
			wrt = append(wrt, v.Value)
		}
		gg.grads = op.Gradients(root, []tf.Output{gg.loss}, wrt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return gg
}

func tensorOf(t *testing.T, dtype tf.DataType, vals []float64, shape []int64) *tf.Tensor {
	t.Helper()
	var v any = vals
	if dtype == tf.Float {
		f := make([]float32, len(vals))
		for i, x := range vals {
			f[i] = float32(x)
		}
		v = f
	}
	tensor, err := tf.NewTensor(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := tensor.Reshape(shape); err != nil {
		t.Fatal(err)
	}
	return tensor
}

// newSession opens a session on g with the project's defaults, closed when the test ends, and runs
// g's initialisers.
func newSession(tb testing.TB, g *ops.Graph) *tf.Session {
	tb.Helper()
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sess.Close() })
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		tb.Fatal(err)
	}
	return sess
}

// TestGateIdentityAtInit checks the documented initial state: every gate multiplies its input by the
// same constant, σ(L) for the plain form and 1+σ(-L) for the residual form (squared for the sequential
// channel-spatial gate, which is two gates), whatever the input, in both heads, for the default initial
// logit L = 6 and others.
func TestGateIdentityAtInit(t *testing.T) {
	sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	for _, logit := range []float64{ops.GateInitLogit, 2, 0} {
		for _, c := range gateCases {
			t.Run(fmt.Sprintf("%s_%s_%s_logit%g", c.kind, c.form, c.fusion, logit), func(t *testing.T) {
				testGateAtInit(t, c.kind, c.form, c.fusion, logit, sig)
			})
		}
	}
}

func testGateAtInit(t *testing.T, kind, form, fusion string, logit float64, sig func(float64) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	gg := buildGateWith(t, tf.Float, kind, form, fusion, logit, rng)
	sess := newSession(t, gg.g)
	x := make([]float64, len(gg.r))
	for i := range x {
		x[i] = 3 * rng.NormFloat64()
	}
	out, err := sess.Run(map[tf.Output]*tf.Tensor{gg.x: tensorOf(t, tf.Float, x, gg.xShape)}, []tf.Output{gg.yTrain, gg.yEval}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sig(logit)
	if form == "residual" {
		want = 1 + sig(-logit)
	}
	if fusion == "sequential" {
		want *= want
	}
	for h, o := range out {
		for i, y := range flatten(o.Value()) {
			if math.Abs(y-want*x[i]) > 1e-6*math.Abs(x[i])+1e-7 {
				t.Fatalf("head %d element %d: gate(x) = %.7g, want %.7g·x = %.7g", h, i, y, want, want*x[i])
			}
		}
	}
}

// TestGatesMatchTorch compares every gate's output (training and inference batch norm) and the
// gradients of Σ y·r with respect to the input and every trainable variable with an independent torch
// implementation of CBAM's modules (NCHW, autograd) on random inputs and random weights: in float64 to
// 1e-9 and in float32 to 1e-4, relative to the largest magnitude of each compared tensor.
func TestGatesMatchTorch(t *testing.T) {
	py := pyref.Torch(t)
	type run struct {
		name string
		tol  float64
		got  map[string][]float64
	}
	var runs []run
	var inputs []map[string]any
	for _, dtype := range []tf.DataType{tf.Double, tf.Float} {
		tol, dname := 1e-9, "float64"
		if dtype == tf.Float {
			tol, dname = 1e-4, "float32"
		}
		for _, c := range gateCases {
			in, got := runGate(t, dtype, c.kind, c.form, c.fusion)
			runs = append(runs, run{fmt.Sprintf("%s_%s_%s_%s", c.kind, c.form, c.fusion, dname), tol, got})
			inputs = append(inputs, in)
		}
	}
	path := filepath.Join(t.TempDir(), "gates.json")
	b, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var refs []map[string][]float64
	if err := json.Unmarshal(pyref.Run(t, py, torchGateScript, path), &refs); err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(runs) {
		t.Fatalf("reference returned %d results for %d cases", len(refs), len(runs))
	}
	for i, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			if len(refs[i]) != len(r.got) {
				t.Fatalf("reference has %d tensors, Go %d", len(refs[i]), len(r.got))
			}
			for name, got := range r.got {
				want := refs[i][name]
				if len(want) != len(got) {
					t.Fatalf("%s: %d values, reference has %d", name, len(got), len(want))
				}
				scale, worst := 0.0, 0.0
				for j := range want {
					scale = math.Max(scale, math.Abs(want[j]))
					worst = math.Max(worst, math.Abs(got[j]-want[j]))
				}
				if scale == 0 || worst > r.tol*scale {
					t.Errorf("%s: max |Δ| %.3g, scale %.3g: relative %.3g, want <= %g", name, worst, scale, worst/scale, r.tol)
				}
			}
		})
	}
}

type refVar struct {
	Shape  []int64   `json:"shape"`
	Values []float64 `json:"values"`
}

// runGate sets a gate's variables and input to random values and returns the reference script's input
// and the Go side's outputs and gradients, under the names the script uses.
func runGate(t *testing.T, dtype tf.DataType, kind, form, fusion string) (map[string]any, map[string][]float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, uint64(len(kind)+len(form)+len(fusion))))
	gg := buildGate(t, dtype, kind, form, fusion, rng)
	sess := newSession(t, gg.g)
	vars := map[string]refVar{}
	var trainable []string
	for _, v := range gg.g.Variables() {
		vals := flat(t, sess, v.Value)
		for i := range vals {
			switch {
			case v.Trainable:
				vals[i] = 0.5 * rng.NormFloat64()
			case strings.HasSuffix(v.Name, "moving_variance"):
				vals[i] = 0.5 + rng.Float64()
			default:
				vals[i] = 0.3 * rng.NormFloat64()
			}
		}
		assign(t, sess, v, vals)
		// Read back, so the reference sees exactly what the graph holds (float32 rounding).
		vars[v.Name] = refVar{v.Shape, flat(t, sess, v.Value)}
		if v.Trainable {
			trainable = append(trainable, v.Name)
		}
	}
	x, r := make([]float64, len(gg.r)), slices.Clone(gg.r)
	for i := range x {
		x[i] = rng.NormFloat64()
		if dtype == tf.Float {
			x[i], r[i] = float64(float32(x[i])), float64(float32(r[i]))
		}
	}
	fetch := append([]tf.Output{gg.yTrain, gg.yEval}, gg.grads...)
	out, err := sess.Run(map[tf.Output]*tf.Tensor{gg.x: tensorOf(t, dtype, x, gg.xShape)}, fetch, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{"y_train": flatten(out[0].Value()), "y_eval": flatten(out[1].Value()), "grad/x": flatten(out[2].Value())}
	for i, name := range trainable {
		got["grad/"+name] = flatten(out[3+i].Value())
	}
	in := map[string]any{"kind": kind, "form": form, "fusion": fusion, "x": x, "r": r, "xshape": gg.xShape,
		"vars": vars, "trainable": trainable, "eps": gg.cfg.BatchNorm.Epsilon}
	return in, got
}

// torchGateScript is CBAM's channel and spatial gates written independently in torch (NCHW, float64,
// autograd), reading the Go side's variables (HWIO / [in, out] layouts) from the JSON file argv[1].
const torchGateScript = `
import json, sys, torch
import torch.nn.functional as F
dt = torch.float64

def case(d):
  P = {n: torch.tensor(v['values'], dtype=dt).reshape(v['shape']).requires_grad_(n in d['trainable']) for n, v in d['vars'].items()}
  x = torch.tensor(d['x'], dtype=dt).reshape(d['xshape']).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
  r = torch.tensor(d['r'], dtype=dt).reshape(d['xshape']).permute(0, 3, 1, 2)

  def linear(p, v):
      return F.linear(v, P[p + '/kernel'].t(), P[p + '/bias'])

  def channel(p, x):
      mlp = lambda v: linear(p + '/fc2', F.relu(linear(p + '/fc1', v)))
      return (mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))[:, :, None, None]

  def spatial(p, x, training):
      pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
      w = P[p + '/conv/kernel'].permute(3, 2, 0, 1)
      z = F.conv2d(pooled, w, padding=w.shape[-1] // 2)
      return F.batch_norm(z, P[p + '/bn/moving_mean'].detach().clone(), P[p + '/bn/moving_variance'].detach().clone(),
                          P[p + '/bn/gamma'], P[p + '/bn/beta'], training=training, eps=d['eps'])

  def gate(x, z):
      m = torch.sigmoid(z)
      return x * m if d['form'] == 'plain' else x * (1 + m)

  def forward(x, training):
      k = d['kind']
      if k == 'ca':
          return gate(x, channel('g', x))
      if k == 'sa':
          return gate(x, spatial('g', x, training))
      if d['fusion'] == 'parallel':
          return gate(x, channel('g/ca', x) + spatial('g/sa', x, training))
      x1 = gate(x, channel('g/ca', x))
      return gate(x1, spatial('g/sa', x1, training))

  nhwc = lambda t: t.permute(0, 2, 3, 1).reshape(-1).tolist()
  y_train = forward(x, True)
  y_eval = forward(x, False)
  (y_train * r).sum().backward()
  out = {'y_train': nhwc(y_train.detach()), 'y_eval': nhwc(y_eval.detach()), 'grad/x': nhwc(x.grad)}
  for n in d['trainable']:
      out['grad/' + n] = P[n].grad.reshape(-1).tolist()
  return out

print(json.dumps([case(d) for d in json.load(open(sys.argv[1]))]))
`

func TestNewGate(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		gate    bool
		wantErr bool
	}{
		{"ca", true, false}, {"sa", true, false}, {"csca", true, false},
		{"none", false, true}, {"fcn", false, true}, {"", false, false}, // variants are nets', not gates
		{"cbam", false, true}, {"CA", false, true},
	} {
		g, err := ops.NewGate(tc.kind)
		if (err != nil) != tc.wantErr || (g != nil) != tc.gate {
			t.Errorf("NewGate(%q) = gate %v, err %v; want gate %v, error %v", tc.kind, g != nil, err, tc.gate, tc.wantErr)
		}
	}
}

// TestGateFormulationsAgree checks that each gate computes what baselineGate, the formulation the
// speed-ups replaced, computes: training and inference outputs and the gradients of Σ y·r with respect to
// the input and every trainable variable, on random weights, within 1e-5 of each tensor's largest
// magnitude in float32 (2e-5 for the variables' gradients: a different rounding of the means) and 1e-12
// in float64.
func TestGateFormulationsAgree(t *testing.T) {
	for _, dtype := range []tf.DataType{tf.Float, tf.Double} {
		tol := 1e-5
		if dtype == tf.Double {
			tol = 1e-12
		}
		for _, c := range gateCases {
			for _, shape := range [][]int64{{2, 5, 6, 32}, {3, 7, 7, 128}} {
				t.Run(fmt.Sprintf("%s_%s_%s_%v_%v", c.kind, c.form, c.fusion, dtype, shape), func(t *testing.T) {
					testGateFormulationsAgree(t, dtype, c.kind, c.form, c.fusion, shape, tol)
				})
			}
		}
	}
}

func testGateFormulationsAgree(t *testing.T, dtype tf.DataType, kind, form, fusion string, shape []int64, tol float64) {
	t.Helper()
	gate, err := ops.NewGate(kind)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ops.DefaultGateConfig()
	cfg.Form, cfg.Reduction = form, 8
	if fusion != "" {
		cfg.Fusion = fusion
	}
	g := ops.NewGraphOf(dtype, 3)
	rng := rand.New(rand.NewPCG(uint64(len(kind)), uint64(shape[3])))
	var fetch [2][]tf.Output // [gate, baseline]: y_train, y_eval, then the gradients
	var x tf.Output
	err = ops.Catch("gates "+kind, g, func() error {
		root := g.Root()
		x = op.Placeholder(root.SubScope("x"), dtype, op.PlaceholderShape(tf.MakeShape(shape...)))
		rs := make([]float64, shape[0]*shape[1]*shape[2]*shape[3])
		for i := range rs {
			rs[i] = rng.NormFloat64()
		}
		r := op.Reshape(root.SubScope("r"), op.Cast(root.SubScope("rcast"), op.Const(root.SubScope("rvals"), rs), dtype), op.Const(root.SubScope("shape"), shape))
		axes := op.Const(root.SubScope("axes"), []int32{0, 1, 2, 3})
		for i, f := range []ops.Gate{gate, baselineGate(kind)} {
			name := gateFormulations[i+1]
			y := f(g.Head(name+"_train", true).Sub("g"), x, cfg)
			fetch[i] = []tf.Output{y, f(g.Head(name+"_eval", false).Sub("g"), x, cfg)}
			wrt := []tf.Output{x}
			for _, v := range g.Trainable() {
				wrt = append(wrt, v.Value)
			}
			loss := op.Sum(root.SubScope(name+"_loss"), op.Mul(root.SubScope(name+"_weigh"), y, r), axes)
			fetch[i] = append(fetch[i], op.Gradients(root.SubScope(name+"_grad"), []tf.Output{loss}, wrt)...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sess := newSession(t, g)
	for _, v := range g.Variables() {
		vals := flat(t, sess, v.Value)
		for i := range vals {
			if strings.HasSuffix(v.Name, "moving_variance") {
				vals[i] = 0.5 + rng.Float64()
			} else {
				vals[i] = 0.5 * rng.NormFloat64()
			}
		}
		assign(t, sess, v, vals)
	}
	xs := make([]float64, shape[0]*shape[1]*shape[2]*shape[3])
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	feeds := map[tf.Output]*tf.Tensor{x: tensorOf(t, dtype, xs, shape)}
	var out [2][]*tf.Tensor
	for i := range out {
		if out[i], err = sess.Run(feeds, fetch[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	for k := range out[0] {
		got, want := flatten(out[0][k].Value()), flatten(out[1][k].Value())
		scale, worst := 0.0, 0.0
		for j := range want {
			scale = math.Max(scale, math.Abs(want[j]))
			worst = math.Max(worst, math.Abs(got[j]-want[j]))
		}
		limit := tol
		if k > 2 {
			// The variables' gradients end in sums over N·H·W (the BN scale's over every position) whose
			// terms cancel: float32 rounding moves them by up to twice as much.
			limit = 2 * tol
		}
		if scale == 0 || worst > limit*scale {
			t.Errorf("tensor %d of %d (y_train, y_eval, d/dx, d/dvariables): max |Δ| %.3g, scale %.3g: relative %.3g, want <= %g", k, len(out[0]), worst, scale, worst/scale, limit)
		}
	}
}
