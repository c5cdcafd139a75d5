package nets

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

// ImportReport lists what an import did, by name: graph variables assigned from the file (Loaded) and
// left at their initial values (Initialised: attention gates, a classifier of another size), and the
// file's tensors that matched no variable (Unused; BN's num_batches_tracked counters, which have no
// counterpart, are skipped without mention).
type ImportReport struct {
	Loaded, Initialised []string
	Unused              []string
}

// String is the report as one log line, naming at most a few variables of each list.
func (r ImportReport) String() string {
	return fmt.Sprintf("loaded %d variables; initialised %d: %s; unused tensors %d: %s",
		len(r.Loaded), len(r.Initialised), abbreviate(r.Initialised, 8), len(r.Unused), abbreviate(r.Unused, 4))
}

func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return "[" + strings.Join(names, " ") + "]"
	}
	return fmt.Sprintf("[%s ... and %d more]", strings.Join(names[:n], " "), len(names)-n)
}

// ImportTorchvision assigns weights from a torchvision-named safetensors file (conv1.weight,
// bn1.running_var, layer1.0.conv2.weight, layer2.0.downsample.1.weight, fc.weight, ...) to the graph's
// variables (conv1/kernel, bn1/moving_variance, ...), converting convolution kernels from OIHW to HWIO and
// the classifier from [out, in] to [in, out] (or to fcn's [1, 1, in, out]). F32, F16, BF16 and F64 data
// load into the graph's type. Run it after the graph's InitOp: variables without a tensor in the file
// keep their initial values and are listed in the report, which is also logged as one line. A
// classifier with another number of classes is left initialised; any other tensor whose variable exists
// with another shape is an error naming both.
func ImportTorchvision(sess *tf.Session, g *ops.Graph, path string) (ImportReport, error) {
	var rep ImportReport
	ts, err := readSafetensors(path)
	if err != nil {
		return rep, err
	}
	feeds := map[tf.Output]*tf.Tensor{}
	var targets []*tf.Operation
	loaded := map[string]bool{}
	for _, name := range sortedNames(ts) {
		t := ts[name]
		v, kind := torchvisionVariable(g, name)
		if v == nil {
			if !strings.HasSuffix(name, ".num_batches_tracked") {
				rep.Unused = append(rep.Unused, name)
			}
			continue
		}
		want, ok := torchShape(t.Shape, kind, v.Shape)
		if !ok || !slices.Equal(want, v.Shape) {
			if strings.HasPrefix(name, "fc.") && classifierResized(t.Shape, v.Shape) {
				rep.Unused = append(rep.Unused, name)
				continue
			}
			return rep, fmt.Errorf("import %s: tensor %s of shape %v does not fit variable %s of shape %v", path, name, t.Shape, v.Name, v.Shape)
		}
		vals, err := t.float32s()
		if err != nil {
			return rep, fmt.Errorf("import %s: tensor %s: %w", path, name, err)
		}
		if kind == "conv" {
			vals = oihwToHWIO(vals, t.Shape)
		} else if kind == "fc" {
			vals = transpose2D(vals, t.Shape[0], t.Shape[1])
		}
		tensor, err := feedTensor(vals, v)
		if err != nil {
			return rep, fmt.Errorf("import %s: tensor %s: %w", path, name, err)
		}
		feeds[v.Feed] = tensor
		targets = append(targets, v.AssignFeed)
		loaded[v.Name] = true
	}
	if _, err := sess.Run(feeds, nil, targets); err != nil {
		return rep, fmt.Errorf("import %s: assign: %w", path, err)
	}
	for _, v := range g.Variables() {
		if loaded[v.Name] {
			rep.Loaded = append(rep.Loaded, v.Name)
		} else {
			rep.Initialised = append(rep.Initialised, v.Name)
		}
	}
	slog.Info("imported torchvision weights", "file", path, "report", rep.String())
	return rep, nil
}

// torchvisionVariable maps a torchvision state-dict name to the graph variable it fills and the
// conversion it needs: "conv" (OIHW kernel), "fc" ([out, in] matrix) or "" (copied as is).
func torchvisionVariable(g *ops.Graph, name string) (*ops.Variable, string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return nil, ""
	}
	module, param := strings.ReplaceAll(name[:i], ".", "/"), name[i+1:]
	var candidates []string
	switch param {
	case "weight":
		candidates = []string{"kernel", "gamma"}
	case "bias":
		candidates = []string{"bias", "beta"}
	case "running_mean":
		candidates = []string{"moving_mean"}
	case "running_var":
		candidates = []string{"moving_variance"}
	}
	for _, c := range candidates {
		if v := g.Lookup(module + "/" + c); v != nil {
			switch {
			case c == "kernel" && len(v.Shape) == 4 && module == "fc":
				return v, "fc" // fcn's 1×1-convolution classifier
			case c == "kernel" && len(v.Shape) == 4:
				return v, "conv"
			case c == "kernel" && len(v.Shape) == 2:
				return v, "fc"
			}
			return v, ""
		}
	}
	return nil, ""
}

// torchShape is the shape a torch tensor takes after the conversion of kind, fitted to the target's
// rank for fcn's classifier; ok is false when the torch tensor has the wrong rank for kind.
func torchShape(shape []int64, kind string, target []int64) ([]int64, bool) {
	switch kind {
	case "conv":
		if len(shape) != 4 {
			return nil, false
		}
		return []int64{shape[2], shape[3], shape[1], shape[0]}, true
	case "fc":
		if len(shape) != 2 {
			return nil, false
		}
		if len(target) == 4 {
			return []int64{1, 1, shape[1], shape[0]}, true
		}
		return []int64{shape[1], shape[0]}, true
	}
	return shape, true
}

// classifierResized reports whether a torchvision fc tensor differs from the model's classifier only in
// the number of classes (fine-tuning to another label set).
func classifierResized(src, dst []int64) bool {
	switch {
	case len(src) == 2 && len(dst) >= 2: // weight [out, in] against [.., in, out]
		return src[1] == dst[len(dst)-2] && src[0] != dst[len(dst)-1]
	case len(src) == 1 && len(dst) == 1: // bias
		return src[0] != dst[0]
	}
	return false
}

// oihwToHWIO transposes a PyTorch convolution kernel (axes 2, 3, 1, 0).
func oihwToHWIO(v []float32, s []int64) []float32 {
	o, in, h, w := s[0], s[1], s[2], s[3]
	out := make([]float32, len(v))
	for a := range o {
		for b := range in {
			for c := range h {
				for d := range w {
					out[((c*w+d)*in+b)*o+a] = v[((a*in+b)*h+c)*w+d]
				}
			}
		}
	}
	return out
}

// transpose2D turns a row-major [rows, cols] matrix into [cols, rows].
func transpose2D(v []float32, rows, cols int64) []float32 {
	out := make([]float32, len(v))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// feedTensor makes a tensor of v's type and shape from row-major values.
func feedTensor(vals []float32, v *ops.Variable) (*tf.Tensor, error) {
	var t *tf.Tensor
	var err error
	if v.Feed.DataType() == tf.Double {
		f := make([]float64, len(vals))
		for i, x := range vals {
			f[i] = float64(x)
		}
		t, err = tf.NewTensor(f)
	} else {
		t, err = tf.NewTensor(vals)
	}
	if err != nil {
		return nil, err
	}
	if err := t.Reshape(v.Shape); err != nil {
		return nil, err
	}
	return t, nil
}
