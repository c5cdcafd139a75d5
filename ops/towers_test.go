package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/tfserver"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

const (
	towerBatch   = 8 // four images per tower
	towerSize    = 32
	towerClasses = 5
	towerLR      = 0.01
)

// towerNet is a small ResNet-18 of the given attention variant.
func towerNet(attention string) nets.Config {
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.NumClasses, cfg.WidthMultiplier, cfg.Reduction = nets.Attention(attention), 18, towerClasses, 0.25, 4
	return cfg
}

// towerData is a seeded batch per step: RGB 0..255 images and labels.
func towerData(steps int) ([]*tf.Tensor, []*tf.Tensor, error) {
	rng := rand.New(rand.NewPCG(11, 12))
	var images, labels []*tf.Tensor
	for range steps {
		x := make([][][][]float32, towerBatch)
		for n := range x {
			x[n] = make([][][]float32, towerSize)
			for i := range x[n] {
				x[n][i] = make([][]float32, towerSize)
				for j := range x[n][i] {
					x[n][i][j] = []float32{float32(rng.IntN(256)), float32(rng.IntN(256)), float32(rng.IntN(256))}
				}
			}
		}
		y := make([]int32, towerBatch)
		for n := range y {
			y[n] = int32(rng.IntN(towerClasses))
		}
		xt, err := tf.NewTensor(x)
		if err != nil {
			return nil, nil, err
		}
		yt, err := tf.NewTensor(y)
		if err != nil {
			return nil, nil, err
		}
		images, labels = append(images, xt), append(labels, yt)
	}
	return images, labels, nil
}

// sgdModel is a graph with a training step: gradients of the mean cross-entropy, one SGD update of every
// trainable variable and tower 0's (or the first half's) batch-norm updates.
type sgdModel struct {
	g              *ops.Graph
	images, labels tf.Output
	step           *tf.Operation
}

func sgdStep(g *ops.Graph, vars []*ops.Variable, grads []tf.Output, updates []*tf.Operation) *tf.Operation {
	s := g.Root().SubScope("sgd")
	deps := append([]*tf.Operation(nil), updates...)
	for i, v := range vars {
		delta := op.Mul(s.SubScope("delta"), grads[i], op.Const(s.SubScope("lr"), float32(towerLR)))
		deps = append(deps, op.AssignSubVariableOp(s.SubScope("apply"), v.Handle, delta))
	}
	return op.NoOp(s.SubScope("step").WithControlDependencies(deps...))
}

func placeholders(g *ops.Graph) (images, labels tf.Output) {
	root := g.Root()
	images = op.Placeholder(root.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, towerSize, towerSize, 3)))
	labels = op.Placeholder(root.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	return images, labels
}

func replica(cfg nets.Config) ops.ReplicaFunc {
	return func(s *ops.Scope, in []tf.Output) (tf.Output, []tf.Output, error) {
		out, err := nets.Build(s, in[0], cfg)
		if err != nil {
			return tf.Output{}, nil, err
		}
		return ops.SoftmaxCrossEntropy(s.Sub("loss"), out.Logits, in[1], cfg.NumClasses, 0), nil, nil
	}
}

// buildTowers builds the training step with ops.BuildTowers.
func buildTowers(t *testing.T, cfg nets.Config, devices []string, param string) (*sgdModel, *ops.Towers) {
	t.Helper()
	m := &sgdModel{g: ops.NewGraph(3)}
	var tw *ops.Towers
	err := ops.Catch("towers", m.g, func() error {
		m.images, m.labels = placeholders(m.g)
		var err error
		tw, err = m.g.BuildTowers("train", devices, param, []tf.Output{m.images, m.labels}, replica(cfg))
		if err != nil {
			return err
		}
		return m.g.OnDevice(param, func() error {
			m.step = sgdStep(m.g, tw.Vars, tw.Grads, tw.Updates)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, tw
}

// buildReference builds the same step without BuildTowers, on one device: two plain heads on the two
// halves of the batch, each loss differentiated by op.Gradients on the original graph, the two
// gradients averaged, the first head's batch-norm updates.
func buildReference(t *testing.T, cfg nets.Config) *sgdModel {
	t.Helper()
	m := &sgdModel{g: ops.NewGraph(3)}
	err := ops.Catch("reference", m.g, func() error {
		m.images, m.labels = placeholders(m.g)
		root := m.g.Root()
		half := int64(towerBatch / 2)
		var losses []tf.Output
		var updates []*tf.Operation
		for i, name := range []string{"half0", "half1"} {
			begin := op.Const(root.SubScope("begin"), []int64{int64(i) * half, 0, 0, 0})
			x := op.Slice(root.SubScope("x"), m.images, begin, op.Const(root.SubScope("size"), []int64{half, -1, -1, -1}))
			y := op.Slice(root.SubScope("y"), m.labels, op.Const(root.SubScope("lbegin"), []int64{int64(i) * half}), op.Const(root.SubScope("lsize"), []int64{half}))
			s := m.g.Head(name, true)
			loss, _, err := replica(cfg)(s, []tf.Output{x, y})
			if err != nil {
				return err
			}
			losses = append(losses, loss)
			if i == 0 {
				updates = s.Updates()
			}
		}
		vars := m.g.Trainable()
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		g0 := op.Gradients(root.SubScope("gradients"), []tf.Output{losses[0]}, values)
		g1 := op.Gradients(root.SubScope("gradients"), []tf.Output{losses[1]}, values)
		grads := make([]tf.Output, len(vars))
		for i := range grads {
			sum := op.AddN(root.SubScope("sum"), []tf.Output{g0[i], g1[i]})
			grads[i] = op.Mul(root.SubScope("mean"), sum, op.Const(root.SubScope("half"), float32(0.5)))
		}
		m.step = sgdStep(m.g, vars, grads, updates)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// train initialises m, runs steps steps and returns every variable, the initial values under
// "init/NAME".
func train(t *testing.T, m *sgdModel, opts *tf.SessionOptions, steps int) map[string][]float32 {
	t.Helper()
	sess, err := tf.NewSession(m.g.TF(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{m.g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	vars := m.g.Variables()
	read := func(prefix string, out map[string][]float32) {
		for _, v := range vars {
			r, err := sess.Run(nil, []tf.Output{v.Value}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out[prefix+v.Name] = flat32(r[0].Value())
		}
	}
	vals := map[string][]float32{}
	read("init/", vals)
	images, labels, err := towerData(steps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range steps {
		if _, err := sess.Run(map[tf.Output]*tf.Tensor{m.images: images[i], m.labels: labels[i]}, nil, []*tf.Operation{m.step}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	read("", vals)
	return vals
}

func flat32(v any) []float32 {
	var out []float32
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case float32:
			out = append(out, x)
		case []float32:
			out = append(out, x...)
		case [][]float32:
			for _, r := range x {
				walk(r)
			}
		case [][][]float32:
			for _, r := range x {
				walk(r)
			}
		case [][][][]float32:
			for _, r := range x {
				for _, c := range r {
					walk(c)
				}
			}
		}
	}
	walk(v)
	return out
}

func relDiff(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(n), 1e-30)
}

// sameWeights requires every variable of got within tol of want (relative L2 norm of the difference)
// and most trained variables to have moved from their initial values by far more than that.
func sameWeights(t *testing.T, what string, got, want map[string][]float32, tol float64) {
	t.Helper()
	moved, worst := 0, 0.0
	for name, w := range want {
		g, ok := got[name]
		if !ok || len(g) != len(w) {
			t.Fatalf("%s: variable %s missing or of another size", what, name)
		}
		d := relDiff(g, w)
		if d > tol {
			t.Errorf("%s: %s differs by %.3g relative, want ≤ %g", what, name, d, tol)
		}
		worst = max(worst, d)
		if !strings.HasPrefix(name, "init/") && relDiff(w, want["init/"+name]) > 100*tol {
			moved++
		}
	}
	if moved < len(want)/4 {
		t.Errorf("%s: only %d of %d variables moved in training: the comparison says little", what, moved, len(want)/2)
	}
	t.Logf("%s: largest relative difference %.3g over %d variables", what, worst, len(want)/2)
}

func sessionOptions(t *testing.T, cfg ops.SessionConfig) *tf.SessionOptions {
	t.Helper()
	opts, err := cfg.Options()
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// TestTowersMatchSingleDevice trains 3 SGD steps with two towers on two CPU devices and compares every
// variable, to 1e-5 relative, with the same graph run on one device (both towers on CPU:0): each half
// of the batch normalised by its own statistics in both.
func TestTowersMatchSingleDevice(t *testing.T) {
	for _, attention := range []string{"none", "csca"} {
		t.Run(attention, func(t *testing.T) {
			if testing.Short() && attention != "none" {
				t.Skip("-short checks the none variant only")
			}
			cfg := towerNet(attention)
			one, _ := buildTowers(t, cfg, []string{"/device:CPU:0", "/device:CPU:0"}, "/device:CPU:0")
			want := train(t, one, sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2}), 3)

			m, tw := buildTowers(t, cfg, []string{"/device:CPU:0", "/device:CPU:1"}, "/device:CPU:0")
			checkPlacement(t, m.g, "train_tower1_gradients/gradients/", "/device:CPU:1")
			if len(tw.Towers) != 2 || len(tw.Grads) != len(tw.Vars) || len(tw.Updates) == 0 {
				t.Fatalf("towers: %d towers, %d grads for %d variables, %d updates", len(tw.Towers), len(tw.Grads), len(tw.Vars), len(tw.Updates))
			}
			got := train(t, m, sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2, CPUDevices: 2}), 3)
			sameWeights(t, "two towers on CPU:0, CPU:1", got, want, 1e-5)
		})
	}
}

// TestTowersMatchOpGradients checks the towers' arithmetic against a reference built without them
// (buildReference: plain heads, op.Gradients) after one SGD step, to 1e-6 relative. Only one step: the
// gradients built on a copy of the graph add some terms of the csca model in another order (5e-8
// relative after one step), and small batches per batch norm amplify such rounding over steps (7e-3
// after three steps with two 32-px images per tower), which says nothing about the towers.
func TestTowersMatchOpGradients(t *testing.T) {
	for _, attention := range []string{"none", "csca"} {
		t.Run(attention, func(t *testing.T) {
			if testing.Short() {
				t.Skip("builds three models")
			}
			cfg := towerNet(attention)
			want := train(t, buildReference(t, cfg), sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2}), 1)
			m, _ := buildTowers(t, cfg, []string{"/device:CPU:0", "/device:CPU:1"}, "/device:CPU:0")
			got := train(t, m, sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2, CPUDevices: 2}), 1)
			sameWeights(t, "two towers against op.Gradients", got, want, 1e-6)
		})
	}
}

// checkPlacement requires every op whose name starts with prefix to be asked for device.
func checkPlacement(t *testing.T, g *ops.Graph, prefix, device string) {
	t.Helper()
	n := 0
	for _, o := range g.TF().Operations() {
		if strings.HasPrefix(o.Name(), prefix) {
			n++
			if o.Device() != device {
				t.Fatalf("op %s is on %q, want %q", o.Name(), o.Device(), device)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no op named %s*", prefix)
	}
}

// TestTowersOverWorkers runs the towers of TestTowersMatchSingleDevice on two TensorFlow servers of
// this process on loopback ports, one tower per task, the variables on task 0.
func TestTowersOverWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two TensorFlow servers")
	}
	srv, err := tfserver.StartLocal(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := towerNet("none")
	one, _ := buildTowers(t, cfg, []string{"/device:CPU:0", "/device:CPU:0"}, "/device:CPU:0")
	want := train(t, one, sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2}), 3)
	m, _ := buildTowers(t, cfg, []string{tfserver.Device(0, "CPU", 0), tfserver.Device(1, "CPU", 0)}, tfserver.Device(0, "CPU", 0))
	checkPlacement(t, m.g, "train_tower1_gradients/gradients/", tfserver.Device(1, "CPU", 0))
	opts := sessionOptions(t, ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 2})
	opts.Target = srv[0].Target()
	sameWeights(t, "two towers on two workers", train(t, m, opts, 3), want, 1e-5)
}

func TestBuildTowersErrors(t *testing.T) {
	g := ops.NewGraph(1)
	x := op.Const(g.Root().SubScope("x"), []float32{1, 2})
	noVars := func(s *ops.Scope, in []tf.Output) (tf.Output, []tf.Output, error) {
		return op.Sum(s.Op(), in[0], op.Const(s.Op(), int32(0))), nil, nil
	}
	if _, err := g.BuildTowers("a", nil, "", []tf.Output{x}, noVars); err == nil || !strings.Contains(err.Error(), "no devices") {
		t.Errorf("no devices: %v", err)
	}
	if _, err := ops.NewGraph(1).BuildTowers("b", []string{""}, "", nil, func(s *ops.Scope, _ []tf.Output) (tf.Output, []tf.Output, error) {
		return s.Const(1), nil, nil
	}); err == nil || !strings.Contains(err.Error(), "no trainable variables") {
		t.Errorf("no variables: %v", err)
	}
	fail := func(*ops.Scope, []tf.Output) (tf.Output, []tf.Output, error) {
		return tf.Output{}, nil, fmt.Errorf("boom")
	}
	if _, err := ops.NewGraph(1).BuildTowers("c", []string{"/device:CPU:0"}, "", nil, fail); err == nil || !strings.Contains(err.Error(), `tower 0 on "/device:CPU:0": boom`) {
		t.Errorf("failing replica: %v", err)
	}
}
