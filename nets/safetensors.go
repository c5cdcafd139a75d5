package nets

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
)

// ExportTorchvision reads every variable of the graph and returns it under its torchvision state-dict
// name (TorchName) in PyTorch's layout, as float32: convolution kernels HWIO → OIHW, dense kernels
// [in, out] → [out, in], fcn's [1, 1, in, out] classifier → [out, in]. Each BN also gets the
// num_batches_tracked counter torchvision's BatchNorm2d keeps (0: the count is not tracked here), so a
// none model's tensors load into torchvision.models.resnetNN with load_state_dict(strict=True). Gated
// models add their gate variables under the same scheme (layer1.0.ca.fc1.weight, layer1.0.sa.conv.weight,
// layer1.0.csca.ca.fc2.bias, ...), which torchvision's ResNet does not have: load them with strict=False
// or into a model that defines those modules. Run it with the graph's variables holding the weights to
// export, before optimiser slots exist (or it names them).
func ExportTorchvision(sess *tf.Session, g *ops.Graph) (map[string]*weights.Tensor, error) {
	vars := g.Variables()
	fetch := make([]tf.Output, len(vars))
	for i, v := range vars {
		fetch[i] = v.Value
	}
	vals, err := sess.Run(nil, fetch, nil)
	if err != nil {
		return nil, fmt.Errorf("export: read variables: %w", err)
	}
	out := map[string]*weights.Tensor{}
	for i, v := range vars {
		name, ok := TorchName(v.Name)
		if !ok {
			return nil, fmt.Errorf("export: variable %s has no torchvision name (is it a model variable?)", v.Name)
		}
		f, err := float32Values(vals[i])
		if err != nil {
			return nil, fmt.Errorf("export: variable %s: %w", v.Name, err)
		}
		spec := VarSpec{v.Name, v.Shape}
		kind := conversion(spec)
		switch kind {
		case kindConv:
			f = hwioToOIHW(f, v.Shape)
		case kindFC:
			f = transpose2D(f, v.Shape[0], v.Shape[1])
		case kindFC4:
			f = transpose2D(f, v.Shape[2], v.Shape[3])
		}
		t, err := weights.FromFloat32s(f, torchShape(v.Shape, kind)...)
		if err != nil {
			return nil, fmt.Errorf("export: variable %s: %w", v.Name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("export: two variables map to %s", name)
		}
		out[name] = t
		if len(name) > len(".running_var") && name[len(name)-len(".running_var"):] == ".running_var" {
			out[name[:len(name)-len("running_var")]+"num_batches_tracked"] = &weights.Tensor{DType: "I64", Shape: []int64{}, Data: make([]byte, 8)}
		}
	}
	return out, nil
}

// float32Values flattens a float32 or float64 tensor's values in row-major order.
func float32Values(t *tf.Tensor) ([]float32, error) {
	n := int64(1)
	for _, d := range t.Shape() {
		n *= d
	}
	switch t.DataType() {
	case tf.Float:
		out := make([]float32, 0, n)
		flatten(t.Value(), func(x float32) { out = append(out, x) })
		return out, nil
	case tf.Double:
		out := make([]float32, 0, n)
		flatten(t.Value(), func(x float64) { out = append(out, float32(x)) })
		return out, nil
	}
	return nil, fmt.Errorf("type %v, want float32 or float64", t.DataType())
}

// flatten visits the scalars of a nested slice value of tf.Tensor.Value in row-major order.
func flatten[T float32 | float64](v any, f func(T)) {
	switch x := v.(type) {
	case T:
		f(x)
	case []T:
		for _, y := range x {
			f(y)
		}
	case [][]T:
		for _, y := range x {
			flatten(y, f)
		}
	case [][][]T:
		for _, y := range x {
			flatten(y, f)
		}
	case [][][][]T:
		for _, y := range x {
			flatten(y, f)
		}
	}
}
