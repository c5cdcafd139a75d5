package nets

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
)

// specsFor builds cfg's graph (no session) and lists its variables.
func specsFor(t *testing.T, cfg Config) []VarSpec {
	t.Helper()
	g := ops.NewGraph(1)
	images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 32, 32, 3)))
	if _, err := Build(g.Head("head", false), images, cfg); err != nil {
		t.Fatal(err)
	}
	return VarSpecs(g)
}

// stateDict is the torchvision state dict (zero values) that cfg's variables take, with BN's
// num_batches_tracked counters, as a torch.save file would hold it.
func stateDict(t *testing.T, cfg Config) *weights.File {
	t.Helper()
	f := &weights.File{Path: "w.pth", Format: weights.FormatTorchZip, Tensors: map[string]*weights.Tensor{}}
	for _, v := range specsFor(t, cfg) {
		name, ok := TorchName(v.Name)
		if !ok {
			t.Fatalf("variable %s has no torch name", v.Name)
		}
		shape := torchShape(v.Shape, conversion(v))
		f.Tensors[name] = &weights.Tensor{DType: "F32", Shape: shape, Data: make([]byte, 4*weights.Numel(shape))}
		if strings.HasSuffix(name, ".running_var") {
			f.Tensors[strings.TrimSuffix(name, "running_var")+"num_batches_tracked"] = &weights.Tensor{DType: "I64", Shape: []int64{}, Data: make([]byte, 8)}
		}
	}
	return f
}

func config(depth int, attention Attention, classes int) Config {
	c := DefaultConfig()
	c.Depth, c.Attention, c.NumClasses = depth, attention, classes
	return c
}

// edit returns a copy of f changed by fn.
func edit(f *weights.File, fn func(ts map[string]*weights.Tensor)) *weights.File {
	c := *f
	c.Tensors = map[string]*weights.Tensor{}
	for k, v := range f.Tensors {
		c.Tensors[k] = v
	}
	fn(c.Tensors)
	return &c
}

// TestPlanImport covers the strict import's decisions on files in memory: what loads, what starts fresh
// and why, and for each kind of mismatch an error that names the tensors and says what probably
// happened (wrong depth, deep stem, a prefix, gates, widths), or with Partial a report of it.
func TestPlanImport(t *testing.T) {
	r18, r34, r50 := stateDict(t, config(18, "none", 1000)), stateDict(t, config(34, "none", 1000)), stateDict(t, config(50, "none", 1000))
	csca18 := stateDict(t, config(18, "csca", 1000))
	half := config(18, "none", 1000)
	half.WidthMultiplier = 0.5
	for _, tc := range []struct {
		name    string
		model   Config
		file    *weights.File
		opt     ImportOptions
		errs    []string // substrings of the error; none: no error
		fresh   []string // variables that must be initialised (a prefix ending in / matches a subtree)
		notes   string   // substring of the notes
		unused  []string
		problem string // substring of a reported problem (Partial)
	}{
		{name: "exact", model: config(18, "none", 1000), file: r18},
		{name: "exact 50", model: config(50, "none", 1000), file: r50},
		{name: "fcn takes fc as a 1x1 convolution", model: config(18, "fcn", 1000), file: r18},
		{name: "another class count", model: config(18, "none", 10), file: r18,
			fresh: []string{"fc/kernel", "fc/bias"}, notes: "1000 classes and the model's 10", unused: []string{"fc.bias", "fc.weight"}},
		{name: "another class count, classifier required", model: config(18, "none", 10), file: r18, opt: ImportOptions{KeepClassifier: true},
			errs: []string{"strict import refused", "shape: fc.weight is [1000 512], fc/kernel wants [10 512]"}},
		{name: "headless file", model: config(18, "none", 10), file: edit(r18, func(ts map[string]*weights.Tensor) { delete(ts, "fc.weight"); delete(ts, "fc.bias") }),
			fresh: []string{"fc/kernel", "fc/bias"}, notes: "no classifier"},
		{name: "gates start fresh", model: config(18, "csca", 1000), file: r18, fresh: []string{"layer1/0/csca/"}, notes: "attention-gate variables start fresh"},
		{name: "gates load from an exported gated model", model: config(18, "csca", 1000), file: csca18},
		{name: "ResNet-18 weights into depth 34", model: config(34, "none", 1000), file: r18,
			errs: []string{"wrong depth: the file holds a ResNet-18 and the model is a ResNet-34", "set model.depth: 18", "missing: layer1.2.conv1.weight", "model.pretrained_strict: false"}},
		{name: "ResNet-34 weights into depth 18", model: config(18, "none", 1000), file: r34,
			errs: []string{"the file holds a ResNet-34 and the model is a ResNet-18", "set model.depth: 34", "unused: layer1.2.conv1.weight"}},
		{name: "ResNet-50 weights into depth 18", model: config(18, "none", 1000), file: r50,
			errs: []string{"the file holds a ResNet-50 and the model is a ResNet-18", "shape: layer1.0.conv1.weight is [64 64 1 1]"}},
		{name: "partial load accepted knowingly", model: config(34, "none", 1000), file: r18, opt: ImportOptions{Partial: true},
			fresh: []string{"layer1/2/conv1/kernel"}, problem: "missing: layer1.2.conv1.weight"},
		{name: "prefix", model: config(18, "none", 1000), file: prefixed(r18, "backbone."),
			errs: []string{"no tensor of the file fits the model", `prefix "backbone."`, "go run ./cmd/weights convert -strip-prefix backbone. w.pth OUT.safetensors"}},
		{name: "prefix, partial", model: config(18, "none", 1000), file: prefixed(r18, "encoder.body."), opt: ImportOptions{Partial: true},
			errs: []string{"no tensor of the file fits", `prefix "encoder.body."`}},
		{name: "deep stem", model: config(50, "none", 1000), file: edit(r50, func(ts map[string]*weights.Tensor) {
			delete(ts, "conv1.weight")
			ts["conv1.0.weight"] = &weights.Tensor{DType: "F32", Shape: []int64{32, 3, 3, 3}, Data: make([]byte, 4*32*27)}
			ts["conv1.3.weight"] = &weights.Tensor{DType: "F32", Shape: []int64{32, 32, 3, 3}, Data: make([]byte, 4*32*32*9)}
		}), errs: []string{"deep stem", "missing: conv1.weight", "unused: conv1.0.weight"}},
		{name: "gates the model lacks", model: config(18, "none", 1000), file: csca18,
			errs: []string{"attention-gate weights the model lacks", "unused: layer1.0.csca."}},
		{name: "other widths", model: half, file: r18, errs: []string{"other channel widths", "shape: bn1.bias is [64], bn1/beta wants [32]"}},
		{name: "integer tensor", model: config(18, "none", 1000), file: edit(r18, func(ts map[string]*weights.Tensor) {
			ts["bn1.weight"] = &weights.Tensor{DType: "I64", Shape: []int64{64}, Data: make([]byte, 8*64)}
		}), errs: []string{"dtype: bn1.weight is I64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := specsFor(t, tc.model)
			p, err := PlanImport(vars, tc.file, tc.opt)
			if len(tc.errs) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\nwant one containing %q", err, want)
				}
			}
			if err != nil {
				return
			}
			rep := p.Report
			if len(rep.Loaded)+len(rep.Initialised) != len(vars) || len(p.Assign) != len(rep.Loaded) {
				t.Errorf("%d loaded + %d initialised of %d variables, %d assignments", len(rep.Loaded), len(rep.Initialised), len(vars), len(p.Assign))
			}
			for _, want := range tc.fresh {
				if !slices.ContainsFunc(rep.Initialised, func(n string) bool { return n == want || (strings.HasSuffix(want, "/") && strings.HasPrefix(n, want)) }) {
					t.Errorf("initialised %v lacks %s", rep.Initialised, want)
				}
			}
			if len(tc.fresh) == 0 && len(rep.Initialised) > 0 {
				t.Errorf("initialised %v, want none", rep.Initialised)
			}
			if !strings.Contains(strings.Join(rep.Notes, "\n"), tc.notes) {
				t.Errorf("notes %q lack %q", rep.Notes, tc.notes)
			}
			if tc.unused != nil && !slices.Equal(rep.Unused, tc.unused) {
				t.Errorf("unused %v, want %v", rep.Unused, tc.unused)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tc.problem) || (tc.problem == "") != (len(rep.Problems) == 0) {
				t.Errorf("problems %v, want one containing %q", rep.Problems, tc.problem)
			}
			for _, n := range rep.Skipped {
				if !strings.HasSuffix(n, ".num_batches_tracked") {
					t.Errorf("skipped %s", n)
				}
			}
		})
	}
}

func prefixed(f *weights.File, prefix string) *weights.File {
	return edit(f, func(ts map[string]*weights.Tensor) {
		for k, v := range ts {
			delete(ts, k)
			ts[prefix+k] = v
		}
	})
}

// TestTorchName maps the variables of every kind to torchvision's names and back to the right layout.
func TestTorchName(t *testing.T) {
	for _, tc := range []struct {
		variable, name, convert string
		shape, torch            []int64
	}{
		{"conv1/kernel", "conv1.weight", kindConv, []int64{7, 7, 3, 64}, []int64{64, 3, 7, 7}},
		{"bn1/gamma", "bn1.weight", kindCopy, []int64{64}, []int64{64}},
		{"bn1/beta", "bn1.bias", kindCopy, []int64{64}, []int64{64}},
		{"layer2/0/downsample/1/moving_variance", "layer2.0.downsample.1.running_var", kindCopy, []int64{128}, []int64{128}},
		{"layer2/0/downsample/0/kernel", "layer2.0.downsample.0.weight", kindConv, []int64{1, 1, 64, 128}, []int64{128, 64, 1, 1}},
		{"fc/kernel", "fc.weight", kindFC, []int64{512, 10}, []int64{10, 512}},
		{"fc/kernel", "fc.weight", kindFC4, []int64{1, 1, 512, 10}, []int64{10, 512}},
		{"layer3/1/ca/fc1/kernel", "layer3.1.ca.fc1.weight", kindFC, []int64{256, 16}, []int64{16, 256}},
		{"layer3/1/csca/sa/conv/kernel", "layer3.1.csca.sa.conv.weight", kindConv, []int64{7, 7, 2, 1}, []int64{1, 2, 7, 7}},
	} {
		name, ok := TorchName(tc.variable)
		v := VarSpec{tc.variable, tc.shape}
		if !ok || name != tc.name || conversion(v) != tc.convert || !slices.Equal(torchShape(tc.shape, conversion(v)), tc.torch) {
			t.Errorf("%s %v: %s %v %q %v, want %s %q %v", tc.variable, tc.shape, name, ok, conversion(v), torchShape(tc.shape, conversion(v)), tc.name, tc.convert, tc.torch)
		}
	}
	if _, ok := TorchName("optimizer/conv1/kernel/momentum"); ok {
		t.Error("an optimizer slot got a torch name")
	}
}

// TestLayoutTransposes: hwioToOIHW inverts oihwToHWIO and moves element [o, i, h, w] to [h, w, i, o].
func TestLayoutTransposes(t *testing.T) {
	s := []int64{3, 2, 4, 5} // OIHW
	v := make([]float32, weights.Numel(s))
	for i := range v {
		v[i] = float32(i)
	}
	h := oihwToHWIO(v, s)
	o, i, y, x := int64(2), int64(1), int64(3), int64(4)
	if got, want := h[((y*s[3]+x)*s[1]+i)*s[0]+o], v[((o*s[1]+i)*s[2]+y)*s[3]+x]; got != want {
		t.Errorf("HWIO[%d,%d,%d,%d] = %v, want %v", y, x, i, o, got, want)
	}
	if back := hwioToOIHW(h, []int64{s[2], s[3], s[1], s[0]}); !slices.Equal(back, v) {
		t.Error("hwioToOIHW does not invert oihwToHWIO")
	}
	if got := fmt.Sprint(transpose2D([]float32{1, 2, 3, 4, 5, 6}, 2, 3)); got != "[1 4 2 5 3 6]" {
		t.Errorf("transpose2D: %s", got)
	}
}
