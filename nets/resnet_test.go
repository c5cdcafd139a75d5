package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// variantCases are the five variants and the other channel-spatial fusion.
var variantCases = []struct {
	attention Attention
	fusion    CSCAFusion
}{
	{"none", "parallel"}, {"fcn", "parallel"}, {"ca", "parallel"}, {"sa", "parallel"},
	{"csca", "parallel"}, {"csca", "sequential"},
}

func TestVariableNames(t *testing.T) {
	for _, tc := range []struct {
		attention Attention
		fusion    CSCAFusion
		depth     int
		want      map[string][]int64
		absent    []string
	}{
		{"ca", "parallel", 50, map[string][]int64{
			"conv1/kernel":                 {7, 7, 3, 64},
			"bn1/moving_variance":          {64},
			"layer1/0/downsample/0/kernel": {1, 1, 64, 256},
			"layer2/0/downsample/1/gamma":  {512},
			"layer2/0/conv2/kernel":        {3, 3, 128, 128},
			"layer3/2/ca/fc1/kernel":       {1024, 64},
			"layer3/2/ca/fc2/bias":         {1024},
			"layer4/2/bn3/moving_mean":     {2048},
			"fc/kernel":                    {2048, 1000},
			"fc/bias":                      {1000},
		}, []string{"layer1/1/downsample/0/kernel", "layer4/3/conv1/kernel"}},
		{"csca", "parallel", 18, map[string][]int64{
			"layer1/0/conv2/kernel":        {3, 3, 64, 64},
			"layer2/0/downsample/0/kernel": {1, 1, 64, 128},
			"layer3/1/csca/ca/fc1/kernel":  {256, 16},
			"layer3/1/csca/sa/conv/kernel": {7, 7, 2, 1},
			"layer3/1/csca/sa/bn/beta":     {1},
			"fc/kernel":                    {512, 1000},
		}, []string{"layer1/0/downsample/0/kernel", "layer1/0/conv3/kernel"}},
		{"fcn", "parallel", 18, map[string][]int64{"fc/kernel": {1, 1, 512, 1000}}, nil},
	} {
		cfg := DefaultConfig()
		cfg.Attention, cfg.CSCAFusion, cfg.Depth = tc.attention, tc.fusion, tc.depth
		g := ops.NewGraph(1)
		images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, -1, -1, 3)))
		if _, err := Build(g.Head("eval", false), images, cfg); err != nil {
			t.Fatal(err)
		}
		for name, shape := range tc.want {
			if v := g.Lookup(name); v == nil || !slices.Equal(v.Shape, shape) {
				t.Errorf("%s-%d: variable %s = %v, want shape %v", tc.attention, tc.depth, name, v, shape)
			}
		}
		for _, name := range tc.absent {
			if g.Lookup(name) != nil {
				t.Errorf("%s-%d: unexpected variable %s", tc.attention, tc.depth, name)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	g := ops.NewGraph(1)
	bad := DefaultConfig()
	bad.Attention = "cbam"
	images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 3)))
	if _, err := Build(g.Head("a", false), images, bad); err == nil || !strings.Contains(err.Error(), "model.attention") {
		t.Errorf("bad attention: error %v", err)
	}
	gray := op.Placeholder(g.Root().SubScope("gray"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 1)))
	if _, err := Build(g.Head("b", false), gray, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "[N, H, W, 3]") {
		t.Errorf("one-channel images: error %v", err)
	}
}

// TestTrainStep builds every variant at depth 18 (and 50 without -short) with a training head and an
// inference head on the same variables, takes one SGD step on a batch of two 64×64 images and checks
// that every gradient is finite, the loss on that batch went down, the BN moving averages moved, and
// that in the inference head the CAMs' spatial mean equals the logits.
func TestTrainStep(t *testing.T) {
	for _, depth := range []int{18, 50} {
		for _, tc := range variantCases {
			t.Run(fmt.Sprintf("%s_%s_%d", tc.attention, tc.fusion, depth), func(t *testing.T) {
				if testing.Short() && (depth == 50 || (tc.attention != "none" && tc.attention != "csca")) {
					t.Skip("-short trains none and csca at depth 18 only")
				}
				cfg := DefaultConfig()
				cfg.Attention, cfg.CSCAFusion, cfg.Depth, cfg.NumClasses, cfg.Dropout = tc.attention, tc.fusion, depth, 5, 0.2
				trainStep(t, cfg)
			})
		}
	}
}

func trainStep(t *testing.T, cfg Config) {
	h := buildTwoHeads(t, 2, cfg, 0)
	g, loss, grads, eval := h.g, h.loss, h.grads, h.eval
	var step []*tf.Operation
	if err := ops.Catch("sgd step", g, func() error {
		root := g.Root()
		lr := op.Const(root.SubScope("lr"), float32(0.01))
		for i, v := range g.Trainable() {
			step = append(step, op.ResourceApplyGradientDescent(root.SubScope("sgd"), v.Handle, lr, grads[i]))
		}
		step = append(step, h.updates...)
		return nil
	}); err != nil {
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
	xt := randomImages(t, rand.New(rand.NewPCG(3, 4)))
	feeds := map[tf.Output]*tf.Tensor{h.images: xt}
	// Dropout draws its mask from the head's step seed; keep it fixed so both losses see the same mask.
	mean := g.Lookup("layer1/0/bn1/moving_mean").Value
	before, err := sess.Run(feeds, append([]tf.Output{loss, mean}, grads...), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range g.Trainable() {
		for _, d := range flatValues(before[2+i]) {
			if math.IsNaN(d) || math.IsInf(d, 0) {
				t.Fatalf("gradient of %s is not finite", v.Name)
			}
		}
	}
	if _, err := sess.Run(feeds, nil, step); err != nil {
		t.Fatal(err)
	}
	after, err := sess.Run(feeds, []tf.Output{loss, mean, eval.Logits, eval.CAM}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 := float64(before[0].Value().(float32)), float64(after[0].Value().(float32))
	t.Logf("loss %.4f -> %.4f after one step", l0, l1)
	if !(l1 < l0) {
		t.Errorf("loss on the same batch %.5f -> %.5f after one SGD step, want lower", l0, l1)
	}
	if slices.Equal(before[1].Value().([]float32), after[1].Value().([]float32)) {
		t.Error("BN moving mean unchanged by the training step")
	}
	logits, cam := after[2].Value().([][]float32), after[3].Value().([][][][]float32)
	for n := range logits {
		for k := range logits[n] {
			var sum float64
			for _, row := range cam[n] {
				for _, px := range row {
					sum += float64(px[k])
				}
			}
			m := sum / float64(len(cam[n])*len(cam[n][0]))
			if math.Abs(m-float64(logits[n][k])) > 1e-4*(1+math.Abs(m)) {
				t.Fatalf("image %d class %d: CAM mean %.6g, logit %.6g", n, k, m, logits[n][k])
			}
		}
	}
}

func flatValues(t *tf.Tensor) []float64 {
	switch v := t.Value().(type) {
	case float32:
		return []float64{float64(v)}
	case []float32:
		return float64s(v)
	case [][]float32:
		var out []float64
		for _, r := range v {
			out = append(out, float64s(r)...)
		}
		return out
	case [][][][]float32:
		var out []float64
		for _, a := range v {
			for _, b := range a {
				for _, c := range b {
					out = append(out, float64s(c)...)
				}
			}
		}
		return out
	case float64:
		return []float64{v}
	case []float64:
		return v
	case [][]float64:
		var out []float64
		for _, r := range v {
			out = append(out, r...)
		}
		return out
	case [][][][]float64:
		var out []float64
		for _, a := range v {
			for _, b := range a {
				for _, c := range b {
					out = append(out, c...)
				}
			}
		}
		return out
	}
	panic(fmt.Sprintf("flatValues: %T", t.Value()))
}

// TestGradientsFiniteDifferences checks the backward pass of every variant end to end: a depth-18
// model (width 0.25, two 64×64 images, training-mode BN, 5 classes) in float64, where ops composes
// batch norm and the cross-entropy from ops with float64 gradients, with all trainable variables moved
// off their initial values (the gates' zero-initialised last layers would hide the gradients of the
// layers before them). For three random elements of each kind of variable (stem conv, BN gamma and
// beta, a downsample conv, an inner conv, the classifier and every gate variable of block layer3/1) the
// analytic gradient must agree with a central difference (h = 1e-6: the stem sees inputs up to 2.6 and
// a larger step crosses ReLU and max-pool kinks) to 1e-5, relative to the element's
// gradient floored at 1e-3 of the variable's largest gradient.
func TestGradientsFiniteDifferences(t *testing.T) {
	for _, tc := range variantCases {
		t.Run(string(tc.attention)+"_"+string(tc.fusion), func(t *testing.T) {
			if testing.Short() && (tc.attention != "csca" || tc.fusion != "parallel") {
				t.Skip("-short checks the parallel channel-spatial variant only")
			}
			cfg := DefaultConfig()
			cfg.Attention, cfg.CSCAFusion, cfg.Depth, cfg.NumClasses, cfg.WidthMultiplier = tc.attention, tc.fusion, 18, 5, 0.25
			cfg.Reduction = 4
			if tc.fusion == "sequential" {
				cfg.GateForm = "residual"
			}
			gradientCheck(t, cfg)
		})
	}
}

func gradientCheck(t *testing.T, cfg Config) {
	rng := rand.New(rand.NewPCG(7, 8))
	g := ops.NewGraphOf(tf.Double, 5)
	var loss tf.Output
	var grads []tf.Output
	var vars []*ops.Variable
	x := make([]float32, 2*64*64*3)
	for i := range x {
		x[i] = float32(rng.IntN(256))
	}
	err := ops.Catch("gradient check", g, func() error {
		root := g.Root()
		images := op.Reshape(root.SubScope("images"), op.Const(root.SubScope("pixels"), x), op.Const(root.SubScope("shape"), []int64{2, 64, 64, 3}))
		th := g.Head("train", true)
		out, err := Build(th, images, cfg)
		if err != nil {
			return err
		}
		loss = ops.SoftmaxCrossEntropy(th, out.Logits, op.Const(root.SubScope("labels"), []int32{4, 1}), cfg.NumClasses, 0)
		for _, v := range g.Trainable() {
			if checked(v.Name, cfg.Attention) {
				vars = append(vars, v)
			}
		}
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		grads = op.Gradients(root, []tf.Output{loss}, values)
		return nil
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
	read := func(o tf.Output) []float64 {
		res, err := sess.Run(nil, []tf.Output{o}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return flatValues(res[0])
	}
	assign := func(vars []*ops.Variable, values map[*ops.Variable][]float64) {
		feeds := map[tf.Output]*tf.Tensor{}
		var targets []*tf.Operation
		for _, v := range vars {
			tensor, err := tf.NewTensor(values[v])
			if err == nil {
				err = tensor.Reshape(v.Shape)
			}
			if err != nil {
				t.Fatal(err)
			}
			feeds[v.Feed] = tensor
			targets = append(targets, v.AssignFeed)
		}
		if _, err := sess.Run(feeds, nil, targets); err != nil {
			t.Fatal(err)
		}
	}
	// Read and write all variables in one Run each: every new combination of feeds, fetches and
	// targets costs TensorFlow a new executor for this graph.
	trainable := g.Trainable()
	current := make([]tf.Output, len(trainable))
	for i, v := range trainable {
		current[i] = v.Value
	}
	initial, err := sess.Run(nil, current, nil)
	if err != nil {
		t.Fatal(err)
	}
	values := map[*ops.Variable][]float64{}
	for i, v := range trainable {
		vals := flatValues(initial[i])
		for i := range vals {
			vals[i] += 0.1 * rng.NormFloat64()
		}
		values[v] = vals
	}
	assign(trainable, values)
	// Every write assigns all checked variables, for the same reason.
	write := func() { assign(vars, values) }
	res, err := sess.Run(nil, grads, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The central difference at x, or an error bound it misses: relative 1e-5 of the larger of the two
	// derivatives (floored at 1e-3 of the variable's largest gradient) plus the rounding noise of a
	// float64 loss divided by the step, 2e-15/h.
	central := func(v *ops.Variable, j int, h float64) float64 {
		x := values[v][j]
		values[v][j] = x + h
		write()
		up := read(loss)[0]
		values[v][j] = x - h
		write()
		down := read(loss)[0]
		values[v][j] = x
		return (up - down) / (2 * h)
	}
	for i, v := range vars {
		analytic := flatValues(res[i])
		scale := 0.0
		for _, a := range analytic {
			scale = math.Max(scale, math.Abs(a))
		}
		for range 3 {
			j := rng.IntN(len(analytic))
			an := analytic[j]
			// A ReLU or max kink within ±h spoils a difference; a kink seldom lies within 1e-7 too.
			var miss []string
			for _, h := range []float64{1e-6, 1e-7} {
				fd := central(v, j, h)
				bound := 1e-5*math.Max(math.Max(math.Abs(fd), math.Abs(an)), 1e-3*scale) + 2e-15/h
				if math.Abs(fd-an) <= bound {
					miss = nil
					break
				}
				miss = append(miss, fmt.Sprintf("h %g: difference %.10g, |Δ| %.3g > %.3g", h, fd, math.Abs(fd-an), bound))
			}
			if miss != nil {
				t.Errorf("%s[%d]: analytic gradient %.10g; %s", v.Name, j, an, strings.Join(miss, "; "))
			}
		}
	}
	write()
	t.Logf("%d variables checked", len(vars))
}

// checked selects the variables whose gradients TestGradientsFiniteDifferences checks.
func checked(name string, attention Attention) bool {
	switch name {
	case "conv1/kernel", "bn1/gamma", "bn1/beta", "layer2/0/downsample/0/kernel", "layer4/1/conv2/kernel",
		"layer3/1/bn2/gamma", "fc/kernel", "fc/bias":
		return true
	}
	return strings.HasPrefix(name, "layer3/1/"+string(attention)+"/")
}

// twoHeads is a model with a training and an inference head on the same variables, over a placeholder
// batch of two 64×64 images labelled 1 and 3, with the training head's loss, the gradients of every
// trainable variable (in g.Trainable's order) and the training head's batch-norm updates.
type twoHeads struct {
	g            *ops.Graph
	images, loss tf.Output
	train, eval  Outputs
	grads        []tf.Output
	updates      []*tf.Operation
}

// buildTwoHeads builds cfg as twoHeads in a graph seeded with seed; the loss uses label smoothing.
func buildTwoHeads(t *testing.T, seed int64, cfg Config, smoothing float64) twoHeads {
	t.Helper()
	h := twoHeads{g: ops.NewGraph(seed)}
	err := ops.Catch("two heads", h.g, func() error {
		root := h.g.Root()
		h.images = op.Placeholder(root.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(2, 64, 64, 3)))
		labels := op.Const(root.SubScope("labels"), []int32{1, 3})
		th := h.g.Head("train", true)
		var err error
		if h.train, err = Build(th, h.images, cfg); err != nil {
			return err
		}
		if h.eval, err = Build(h.g.Head("eval", false), h.images, cfg); err != nil {
			return err
		}
		h.loss = ops.SoftmaxCrossEntropy(th, h.train.Logits, labels, cfg.NumClasses, smoothing)
		vars := h.g.Trainable()
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		h.grads = op.Gradients(root.SubScope("gradients"), []tf.Output{h.loss}, values)
		h.updates = th.Updates()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// randomImages is a [2, 64, 64, 3] batch of pixels in 0..255 drawn from rng.
func randomImages(t *testing.T, rng *rand.Rand) *tf.Tensor {
	t.Helper()
	pixels := make([]float32, 2*64*64*3)
	for i := range pixels {
		pixels[i] = float32(rng.IntN(256))
	}
	x, err := tf.NewTensor(pixels)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Reshape([]int64{2, 64, 64, 3}); err != nil {
		t.Fatal(err)
	}
	return x
}
