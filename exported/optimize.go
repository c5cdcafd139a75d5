package exported

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	avpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/attr_value_go_proto"
	gpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/graph_go_proto"
	npb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	tpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_go_proto"
	spb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_shape_go_proto"
	typb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"google.golang.org/protobuf/proto"
)

// OptimizeStats says what WriteOptimized did to the graph.
type OptimizeStats struct {
	Frozen       int // variable reads replaced by constants
	FoldedNorms  int // inference batch norms folded into the convolution before them
	NodesBefore  int // nodes of the graph, all heads and the saver included
	NodesAfter   int // nodes the signatures need once frozen and folded
	ConstantMiB  float64
	UnfoldedNorm int // inference batch norms left as they were (their input is not a lone convolution)
}

// WriteOptimized saves m like Write, as an inference-only SavedModel: every variable the signatures
// read is frozen into a constant holding its value in sess, every inference batch norm that follows a
// convolution whose only consumer it is becomes a BiasAdd over the convolution with rescaled weights
// (w·γ/√(σ²+ε), bias β−μ·γ/√(σ²+ε), computed in float64), and what the signatures do not reach
// (training heads, initialisers, the saver) is left out. The model has no variables/ checkpoint
// and no SaverDef, which TensorFlow's C++ loader and Python's tf.saved_model.load both accept.
//
// TensorFlow's inference passes need nothing more from here: grappler runs when a session is created
// on the loaded graph, and with constant weights its constant folding and remapper (which fuses
// Conv2D+BiasAdd+Relu into one kernel on the CPU) see the whole network. The C API offers no way
// to run grappler ahead of time and store its output.
func WriteOptimized(dir string, sess *tf.Session, m SavedModel) (OptimizeStats, error) {
	var st OptimizeStats
	fail := func(err error) (OptimizeStats, error) {
		return st, fmt.Errorf("write optimised SavedModel %s: %w", dir, err)
	}
	if err := checkEmpty(dir); err != nil {
		return st, err
	}
	if len(m.Signatures) == 0 {
		return fail(fmt.Errorf("no signatures"))
	}
	tags := m.Tags
	if len(tags) == 0 {
		tags = []string{TagServe}
	}
	var buf bytes.Buffer
	if _, err := m.Graph.TF().WriteTo(&buf); err != nil {
		return fail(fmt.Errorf("serialize graph: %w", err))
	}
	gd := &gpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), gd); err != nil {
		return fail(fmt.Errorf("parse graph: %w", err))
	}
	st.NodesBefore = len(gd.Node)
	var roots []string
	for _, name := range sortedKeys(m.Signatures) {
		sig := m.Signatures[name]
		for _, k := range sortedKeys(sig.Outputs) {
			roots = append(roots, sig.Outputs[k].Op.Name())
		}
		for _, k := range sortedKeys(sig.Inputs) {
			roots = append(roots, sig.Inputs[k].Op.Name())
		}
	}
	gd.Node = reachable(gd.Node, roots)
	if err := freeze(gd, m.Graph.TF(), sess, &st); err != nil {
		return fail(err)
	}
	if err := foldBatchNorms(gd, &st); err != nil {
		return fail(err)
	}
	gd.Node = reachable(gd.Node, roots)
	st.NodesAfter = len(gd.Node)
	for _, n := range gd.Node {
		if n.Op == "Const" {
			st.ConstantMiB += float64(len(n.Attr["value"].GetTensor().GetTensorContent())) / (1 << 20)
		}
	}

	frozen, err := proto.Marshal(gd)
	if err != nil {
		return fail(err)
	}
	g := tf.NewGraph()
	if err := g.Import(frozen, ""); err != nil {
		return fail(fmt.Errorf("import the frozen graph: %w", err))
	}
	// The loaders feed an asset's absolute path into these tensors, as in Write.
	assets := map[string]tf.Output{}
	s := op.NewScopeWithGraph(g)
	for _, name := range sortedKeys(m.Assets) {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return fail(fmt.Errorf("asset name %q: want a plain file name", name))
		}
		assets[name] = op.Const(s.SubScope("asset_path").SubScope(name), name)
	}
	if err := s.Err(); err != nil {
		return fail(err)
	}
	sigs := make(map[string]Signature, len(m.Signatures))
	for name, sig := range m.Signatures {
		in, err := rebind(g, sig.Inputs)
		if err != nil {
			return fail(fmt.Errorf("signature %s: %w", name, err))
		}
		out, err := rebind(g, sig.Outputs)
		if err != nil {
			return fail(fmt.Errorf("signature %s: %w", name, err))
		}
		sigs[name] = Signature{Inputs: in, Outputs: out, Method: sig.Method}
	}
	buf.Reset()
	if _, err := g.WriteTo(&buf); err != nil {
		return fail(fmt.Errorf("serialize the frozen graph: %w", err))
	}
	final := &gpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), final); err != nil {
		return fail(fmt.Errorf("parse the frozen graph: %w", err))
	}
	defs, err := signatureDefs(sigs)
	if err != nil {
		return fail(err)
	}
	meta := &pb.MetaGraphDef{
		MetaInfoDef:  &pb.MetaGraphDef_MetaInfoDef{Tags: tags, TensorflowVersion: tf.Version()},
		GraphDef:     final,
		SignatureDef: defs,
	}
	for _, name := range sortedKeys(assets) {
		meta.AssetFileDef = append(meta.AssetFileDef, &pb.AssetFileDef{TensorInfo: tensorInfo(assets[name]), Filename: name})
	}
	b, err := proto.Marshal(&pb.SavedModel{SavedModelSchemaVersion: 1, MetaGraphs: []*pb.MetaGraphDef{meta}})
	if err != nil {
		return fail(err)
	}
	err = writeDir(dir, func(tmp string) error {
		if err := writeAssets(tmp, m.Assets); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "saved_model.pb"), b, 0o644)
	})
	return st, err
}

// rebind finds the tensors of outs, named in another graph, in g.
func rebind(g *tf.Graph, outs map[string]tf.Output) (map[string]tf.Output, error) {
	r := make(map[string]tf.Output, len(outs))
	for k, o := range outs {
		x := g.Operation(o.Op.Name())
		if x == nil {
			return nil, fmt.Errorf("%s: no operation %s in the frozen graph", k, o.Op.Name())
		}
		r[k] = x.Output(o.Index)
	}
	return r, nil
}

// inputNode is the node name of a NodeDef input ("name", "name:1" or "^name"), and whether it is a
// control input.
func inputNode(in string) (name string, control bool) {
	if strings.HasPrefix(in, "^") {
		return in[1:], true
	}
	if i := strings.LastIndexByte(in, ':'); i >= 0 {
		if _, err := strconv.Atoi(in[i+1:]); err == nil {
			return in[:i], false
		}
	}
	return in, false
}

// inputIndex is the output index an input names (0 for "name").
func inputIndex(in string) int {
	if i := strings.LastIndexByte(in, ':'); i >= 0 {
		if k, err := strconv.Atoi(in[i+1:]); err == nil {
			return k
		}
	}
	return 0
}

// reachable keeps the nodes that roots need, in their order.
func reachable(nodes []*npb.NodeDef, roots []string) []*npb.NodeDef {
	byName := make(map[string]*npb.NodeDef, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	keep := map[string]bool{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, ok := byName[name]
		if !ok || keep[name] {
			continue
		}
		keep[name] = true
		for _, in := range n.Input {
			src, _ := inputNode(in)
			stack = append(stack, src)
		}
	}
	var out []*npb.NodeDef
	for _, n := range nodes {
		if keep[n.Name] {
			out = append(out, n)
		}
	}
	return out
}

// freeze replaces every ReadVariableOp of gd by a Const holding its value in sess (a session on
// src, the graph gd was serialised from). A resource handle that anything else consumes is an error:
// such a graph cannot be frozen by value.
func freeze(gd *gpb.GraphDef, src *tf.Graph, sess *tf.Session, st *OptimizeStats) error {
	var reads []*npb.NodeDef
	var fetch []tf.Output
	handles := map[string]bool{}
	for _, n := range gd.Node {
		switch n.Op {
		case "ReadVariableOp":
			o := src.Operation(n.Name)
			if o == nil {
				return fmt.Errorf("no operation %s", n.Name)
			}
			reads, fetch = append(reads, n), append(fetch, o.Output(0))
		case "VarHandleOp":
			handles[n.Name] = true
		}
	}
	for _, n := range gd.Node {
		if n.Op == "ReadVariableOp" || handles[n.Name] {
			continue
		}
		for _, in := range n.Input {
			if src, _ := inputNode(in); handles[src] {
				return fmt.Errorf("cannot freeze %s (%s): it uses the variable %s itself, not its value", n.Name, n.Op, src)
			}
		}
	}
	if len(fetch) == 0 {
		return nil
	}
	values, err := sess.Run(nil, fetch, nil)
	if err != nil {
		return fmt.Errorf("read the variables: %w", err)
	}
	for i, n := range reads {
		var content bytes.Buffer
		if _, err := values[i].WriteContentsTo(&content); err != nil {
			return fmt.Errorf("variable read %s: %w", n.Name, err)
		}
		*n = *constNode(n.Name, typb.DataType(values[i].DataType()), values[i].Shape(), content.Bytes())
	}
	st.Frozen = len(reads)
	return nil
}

// constNode is a Const node of the given type, shape and raw little-endian content.
func constNode(name string, dtype typb.DataType, shape []int64, content []byte) *npb.NodeDef {
	sh := &spb.TensorShapeProto{}
	for _, d := range shape {
		sh.Dim = append(sh.Dim, &spb.TensorShapeProto_Dim{Size: d})
	}
	return &npb.NodeDef{
		Name: name,
		Op:   "Const",
		Attr: map[string]*avpb.AttrValue{
			"dtype": {Value: &avpb.AttrValue_Type{Type: dtype}},
			"value": {Value: &avpb.AttrValue_Tensor{Tensor: &tpb.TensorProto{Dtype: dtype, TensorShape: sh, TensorContent: content}}},
		},
	}
}

// floatConst is the float32 content and shape of a Const node; ok is false for anything else.
func floatConst(n *npb.NodeDef) (v []float32, shape []int64, ok bool) {
	if n == nil || n.Op != "Const" {
		return nil, nil, false
	}
	t := n.Attr["value"].GetTensor()
	if t == nil || t.Dtype != typb.DataType_DT_FLOAT {
		return nil, nil, false
	}
	size := int64(1)
	for _, d := range t.GetTensorShape().GetDim() {
		shape = append(shape, d.Size)
		size *= d.Size
	}
	switch {
	case int64(len(t.TensorContent)) == 4*size:
		v = make([]float32, size)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.TensorContent[4*i:]))
		}
	case int64(len(t.FloatVal)) == size:
		v = append(v, t.FloatVal...)
	default:
		return nil, nil, false
	}
	return v, shape, true
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// foldBatchNorms rewrites Conv2D → FusedBatchNormV3(is_training=false) pairs of gd, whose weights
// are constants by now, into Conv2D with folded weights → BiasAdd, the BiasAdd taking the batch
// norm's name so that its consumers are unchanged. Pairs over the same constants (the two heads of an
// export share their variables) share the folded constants.
func foldBatchNorms(gd *gpb.GraphDef, st *OptimizeStats) error {
	byName := make(map[string]*npb.NodeDef, len(gd.Node))
	consumers := map[string]int{} // node name -> inputs (data or control) that name it
	used := map[string]bool{}     // "node:k" for every output index consumed
	for _, n := range gd.Node {
		byName[n.Name] = n
		for _, in := range n.Input {
			src, control := inputNode(in)
			consumers[src]++
			if !control {
				used[src+":"+strconv.Itoa(inputIndex(in))] = true
			}
		}
	}
	folded := map[string][2]string{} // filter,scale,offset,mean,var,eps -> folded filter and bias names
	var added []*npb.NodeDef
	for _, bn := range gd.Node {
		if bn.Op != "FusedBatchNormV3" || bn.Attr["is_training"].GetB() || len(bn.Input) < 5 {
			continue
		}
		if f := string(bn.Attr["data_format"].GetS()); f != "" && f != "NHWC" {
			st.UnfoldedNorm++
			continue
		}
		src, _ := inputNode(bn.Input[0])
		conv := byName[src]
		secondary := false
		for k := 1; k < 6; k++ {
			secondary = secondary || used[bn.Name+":"+strconv.Itoa(k)]
		}
		if conv == nil || conv.Op != "Conv2D" || inputIndex(bn.Input[0]) != 0 || consumers[conv.Name] != 1 || secondary ||
			(conv.Attr["data_format"] != nil && string(conv.Attr["data_format"].GetS()) != "NHWC") {
			st.UnfoldedNorm++
			continue
		}
		var params [5][]float32 // filter, scale, offset, mean, variance
		var fshape []int64
		ok := true
		for k, in := range []string{conv.Input[1], bn.Input[1], bn.Input[2], bn.Input[3], bn.Input[4]} {
			name, control := inputNode(in)
			var shape []int64
			params[k], shape, ok = floatConst(byName[name])
			if !ok || control || inputIndex(in) != 0 {
				ok = false
				break
			}
			if k == 0 {
				fshape = shape
			}
		}
		if !ok || len(fshape) != 4 {
			st.UnfoldedNorm++
			continue
		}
		cout := int(fshape[3])
		for _, p := range params[1:] {
			if len(p) != cout {
				return fmt.Errorf("batch norm %s: %d parameters for %d channels of %s", bn.Name, len(p), cout, conv.Name)
			}
		}
		eps := float64(bn.Attr["epsilon"].GetF())
		if bn.Attr["epsilon"] == nil {
			eps = 1e-4 // FusedBatchNormV3's default
		}
		key := strings.Join([]string{conv.Input[1], bn.Input[1], bn.Input[2], bn.Input[3], bn.Input[4], strconv.FormatFloat(eps, 'g', -1, 64)}, ",")
		names, done := folded[key]
		if !done {
			names = [2]string{bn.Name + "/folded_filter", bn.Name + "/folded_bias"}
			w, bias := foldedWeights(params[0], params[1], params[2], params[3], params[4], eps)
			added = append(added,
				constNode(names[0], typb.DataType_DT_FLOAT, fshape, float32Bytes(w)),
				constNode(names[1], typb.DataType_DT_FLOAT, []int64{int64(cout)}, float32Bytes(bias)))
			folded[key] = names
		}
		conv.Input[1] = names[0]
		controls := []string{}
		for _, in := range bn.Input[5:] {
			if _, c := inputNode(in); c {
				controls = append(controls, in)
			}
		}
		*bn = npb.NodeDef{
			Name:   bn.Name,
			Op:     "BiasAdd",
			Input:  append([]string{bn.Input[0], names[1]}, controls...),
			Device: bn.Device,
			Attr: map[string]*avpb.AttrValue{
				"T":           {Value: &avpb.AttrValue_Type{Type: typb.DataType_DT_FLOAT}},
				"data_format": {Value: &avpb.AttrValue_S{S: []byte("NHWC")}},
			},
		}
		st.FoldedNorms++
	}
	gd.Node = append(gd.Node, added...)
	return nil
}

// foldedWeights folds an inference batch norm into the HWIO convolution filter w before it:
// y = γ·(conv(x, w) − μ)/√(σ²+ε) + β = conv(x, w·s) + (β − μ·s) with s = γ/√(σ²+ε) per output channel.
func foldedWeights(w, gamma, beta, mean, variance []float32, eps float64) (filter, bias []float32) {
	cout := len(gamma)
	scale := make([]float64, cout)
	bias = make([]float32, cout)
	for c := range cout {
		scale[c] = float64(gamma[c]) / math.Sqrt(float64(variance[c])+eps)
		bias[c] = float32(float64(beta[c]) - float64(mean[c])*scale[c])
	}
	filter = make([]float32, len(w))
	for i, x := range w {
		filter[i] = float32(float64(x) * scale[i%cout])
	}
	return filter, bias
}
