package exported

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	apb "github.com/galeone/tensorflow/tensorflow/go/core/framework/attr_value_go_proto"
	fpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	gpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/graph_go_proto"
	npb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	spb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_shape_go_proto"
	typb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"google.golang.org/protobuf/proto"
)

// variant is TF_VARIANT, the dtype of TensorList handles; the Go binding has no constant for it.
const variant = tf.DataType(21)

// Preprocess is the evaluation transform that predict_jpeg applies inside the graph: decode (JPEG,
// PNG or single-frame GIF, to RGB: DecodeJpeg refuses BMP, WebP and animated GIFs, which
// TestDecodeBatchFormats checks; cmd/predict therefore decodes in Go with the pipeline and feeds the
// images signature), resize so that the shorter side is ResizeSize (bilinear with antialiasing, the
// longer side floor(ResizeSize·long/short) as torchvision computes it), then crop the centre
// ImageSize×ImageSize.
type Preprocess struct {
	ResizeSize int
	ImageSize  int
}

func (p Preprocess) validate() error {
	if p.ImageSize <= 0 || p.ResizeSize < p.ImageSize {
		return fmt.Errorf("preprocess: need 0 < image size (%d) <= resize size (%d)", p.ImageSize, p.ResizeSize)
	}
	return nil
}

// decodeBatch adds, under the op-name prefix, a loop that decodes and preprocesses every element of
// data (string [N]) and returns the images as float32 [N, S, S, 3] in 0..255. The loop is a functional
// While op whose body is a FunctionDef built from a scratch graph; the Go binding can neither build
// functions nor set function attributes, so the While node is imported from a small GraphDef whose
// inputs are mapped onto the graph's tensors.
func decodeBatch(g *tf.Graph, prefix string, data tf.Output, p Preprocess) (tf.Output, error) {
	if err := p.validate(); err != nil {
		return tf.Output{}, err
	}
	body, err := decodeBody(prefix, p)
	if err != nil {
		return tf.Output{}, err
	}
	cond, err := decodeCond(prefix)
	if err != nil {
		return tf.Output{}, err
	}
	s := op.NewScopeWithGraph(g).SubScope(prefix)
	n := op.Size(s.SubScope("n"), data, op.SizeOutType(tf.Int32))
	elem := op.Const(s.SubScope("element_shape"), []int32{int32(p.ImageSize), int32(p.ImageSize), 3})
	acc := op.TensorListReserve(s.SubScope("images"), elem, n, tf.Float)
	zero := op.Const(s.SubScope("start"), int32(0))
	if err := s.Err(); err != nil {
		return tf.Output{}, err
	}

	types := []typb.DataType{typb.DataType_DT_INT32, typb.DataType_DT_INT32, typb.DataType_DT_STRING, typb.DataType_DT_VARIANT}
	scalar := &spb.TensorShapeProto{}
	vector := &spb.TensorShapeProto{Dim: []*spb.TensorShapeProto_Dim{{Size: -1}}}
	while := &npb.NodeDef{
		Name:  prefix + "/while",
		Op:    "While",
		Input: []string{"loop_i", "loop_n", "loop_data", "loop_acc"},
		Attr: map[string]*apb.AttrValue{
			"T":                         {Value: &apb.AttrValue_List{List: &apb.AttrValue_ListValue{Type: types}}},
			"cond":                      {Value: &apb.AttrValue_Func{Func: &apb.NameAttrList{Name: cond.Signature.Name}}},
			"body":                      {Value: &apb.AttrValue_Func{Func: &apb.NameAttrList{Name: body.Signature.Name}}},
			"output_shapes":             {Value: &apb.AttrValue_List{List: &apb.AttrValue_ListValue{Shape: []*spb.TensorShapeProto{scalar, scalar, vector, scalar}}}},
			"parallel_iterations":       {Value: &apb.AttrValue_I{I: 8}},
			"_lower_using_switch_merge": {Value: &apb.AttrValue_B{B: true}},
		},
	}
	// The mapped inputs need nodes of those names in the GraphDef; they are placeholders that the
	// mapping replaces, left unused in the graph.
	var nodes []*npb.NodeDef
	for i, name := range while.Input {
		nodes = append(nodes, &npb.NodeDef{Name: name, Op: "Placeholder", Attr: map[string]*apb.AttrValue{
			"dtype": {Value: &apb.AttrValue_Type{Type: types[i]}},
		}})
	}
	def := &gpb.GraphDef{
		Node:    append(nodes, while),
		Library: &fpb.FunctionDefLibrary{Function: []*fpb.FunctionDef{cond, body}},
	}
	b, err := proto.Marshal(def)
	if err != nil {
		return tf.Output{}, fmt.Errorf("%s: %w", prefix, err)
	}
	var opts tf.GraphImportOptions
	opts.Prefix = prefix + "/import"
	for i, in := range []tf.Output{zero, n, data, acc} {
		opts.AddInputMapping(while.Input[i], 0, in)
	}
	if err := g.ImportWithOptions(b, opts); err != nil {
		return tf.Output{}, fmt.Errorf("%s: import decode loop: %w", prefix, err)
	}
	loop := g.Operation(opts.Prefix + "/" + while.Name)
	if loop == nil {
		return tf.Output{}, fmt.Errorf("%s: decode loop missing after import", prefix)
	}
	stacked := op.TensorListStack(s.SubScope("stack"), loop.Output(3), elem, tf.Float)
	out := op.Reshape(s.SubScope("batch"), stacked, op.Const(s.SubScope("batch_shape"), []int32{-1, int32(p.ImageSize), int32(p.ImageSize), 3}))
	return out, s.Err()
}

// loopArgs adds the placeholders of the loop's state (i, n, data, images) to a scratch graph.
func loopArgs(s *op.Scope) []tf.Output {
	return []tf.Output{
		op.Placeholder(s.SubScope("i"), tf.Int32, op.PlaceholderShape(tf.ScalarShape())),
		op.Placeholder(s.SubScope("n"), tf.Int32, op.PlaceholderShape(tf.ScalarShape())),
		op.Placeholder(s.SubScope("data"), tf.String, op.PlaceholderShape(tf.MakeShape(-1))),
		op.Placeholder(s.SubScope("images"), variant, op.PlaceholderShape(tf.ScalarShape())),
	}
}

var loopNames = []string{"i", "n", "data", "images"}

func decodeCond(prefix string) (*fpb.FunctionDef, error) {
	g := tf.NewGraph()
	s := op.NewScopeWithGraph(g)
	args := loopArgs(s)
	more := op.Less(s.SubScope("more"), args[0], args[1])
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: decode loop condition: %w", prefix, err)
	}
	return graphFunction(g, "finegrain_decode_cond", args, []tf.Output{more}, []string{"more"})
}

// decodeBody decodes element i of data, preprocesses it and writes it at position i of the list.
func decodeBody(prefix string, p Preprocess) (*fpb.FunctionDef, error) {
	g := tf.NewGraph()
	s := op.NewScopeWithGraph(g)
	args := loopArgs(s)
	i, data, list := args[0], args[2], args[3]
	encoded := op.GatherV2(s.SubScope("encoded"), data, i, op.Const(s.SubScope("axis"), int32(0)))
	// DecodeJpeg decodes PNG and single-frame GIF as well (one kernel sniffs the format; it
	// refuses BMP: "use decode_bmp or decode_image"), and unlike DecodeImage it takes dct_method:
	// INTEGER_ACCURATE is libjpeg's islow IDCT, which PIL and the pipeline use; DecodeImage would
	// use the fast one, and the graph has no conditional to pick an op by format.
	decoded := op.DecodeJpeg(s.SubScope("decode"), encoded, op.DecodeJpegChannels(3), op.DecodeJpegDctMethod("INTEGER_ACCURATE"))
	image := resizeCrop(s.SubScope("preprocess"), op.Cast(s.SubScope("float"), decoded, tf.Float), p)
	next := op.AddV2(s.SubScope("next"), i, op.Const(s.SubScope("one"), int32(1)))
	list = op.TensorListSetItem(s.SubScope("set"), list, i, image)
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: decode loop body: %w", prefix, err)
	}
	// The function's name carries the sizes so that two exports with different transforms in one
	// process do not clash in a graph's function library.
	name := fmt.Sprintf("finegrain_decode_body_%d_%d", p.ResizeSize, p.ImageSize)
	return graphFunction(g, name, args, []tf.Output{next, args[1], data, list}, loopNames)
}

// resizeCrop resizes one float32 [h, w, 3] image so that its shorter side is p.ResizeSize and crops the
// centre p.ImageSize square, as torchvision's Resize(int) + CenterCrop do.
//
// tfgo's image package has none of these steps with the same pixels, so none of it is used here:
// image.NewImage rescales every image to [0, 1] by its own minimum and maximum, CentralCrop takes a
// fraction and truncates the offsets where torchvision rounds them half to even, and ResizeBilinear and
// the other resizes do not antialias, which PIL's downscaling does (ScaleAndTranslate with antialias
// below). Its ReadJPEG decodes files, not the request's bytes, with the fast IDCT.
func resizeCrop(s *op.Scope, img tf.Output, p Preprocess) tf.Output {
	c := func(name string, v any) tf.Output { return op.Const(s.SubScope(name), v) }
	shape := op.Shape(s.SubScope("shape"), img, op.ShapeOutType(tf.Int32))
	h := op.GatherV2(s.SubScope("h"), shape, c("h_index", int32(0)), c("h_axis", int32(0)))
	w := op.GatherV2(s.SubScope("w"), shape, c("w_index", int32(1)), c("w_axis", int32(0)))
	r := c("resize", int32(p.ResizeSize))
	// torchvision: short, long = (w, h) if w <= h else (h, w); new_long = int(size·long/short).
	portrait := op.LessEqual(s.SubScope("portrait"), w, h)
	short := op.Select(s.SubScope("short"), portrait, w, h)
	long := op.Select(s.SubScope("long"), portrait, h, w)
	newLong := op.FloorDiv(s.SubScope("new_long"), op.Mul(s.SubScope("r_long"), r, long), short)
	newH := op.Select(s.SubScope("new_h"), portrait, newLong, r)
	newW := op.Select(s.SubScope("new_w"), portrait, r, newLong)
	// PIL resamples in two passes, horizontal then vertical, rounding to 8 bits after each (round half
	// up from fixed point); doing the same keeps the in-graph result within rounding of the pipeline's.
	oneF := c("one_f", float32(1))
	wide := resizePass(s.SubScope("horizontal"), op.ExpandDims(s.SubScope("batch"), img, c("batch_axis", int32(0))),
		op.Pack(s.SubScope("wide_size"), []tf.Output{h, newW}),
		op.Pack(s.SubScope("wide_scale"), []tf.Output{oneF, ratio(s.SubScope("sx"), newW, w)}))
	resized := resizePass(s.SubScope("vertical"), wide,
		op.Pack(s.SubScope("size"), []tf.Output{newH, newW}),
		op.Pack(s.SubScope("scale"), []tf.Output{ratio(s.SubScope("sy"), newH, h), oneF}))
	// torchvision: crop_top = int(round((height - size) / 2)), Python's round halving to even, as
	// TensorFlow's Round does.
	crop := c("crop", int32(p.ImageSize))
	offset := func(name string, full tf.Output) tf.Output {
		half := op.Div(s.SubScope(name+"_half"), op.Cast(s.SubScope(name+"_f"), op.Sub(s.SubScope(name+"_excess"), full, crop), tf.Float), c(name+"_two", float32(2)))
		return op.Cast(s.SubScope(name), op.Round(s.SubScope(name+"_round"), half), tf.Int32)
	}
	begin := op.Pack(s.SubScope("begin"), []tf.Output{c("begin_n", int32(0)), offset("top", newH), offset("left", newW), c("begin_c", int32(0))})
	cropped := op.Slice(s.SubScope("crop_slice"), resized, begin, c("crop_size", []int32{1, int32(p.ImageSize), int32(p.ImageSize), 3}))
	return op.Reshape(s.SubScope("image"), cropped, c("image_shape", []int32{int32(p.ImageSize), int32(p.ImageSize), 3}))
}

// ratio is float32(a) / float32(b) for int32 scalars.
func ratio(s *op.Scope, a, b tf.Output) tf.Output {
	return op.Div(s, op.Cast(s.SubScope("a"), a, tf.Float), op.Cast(s.SubScope("b"), b, tf.Float))
}

// resizePass resamples [1, h, w, 3] images to size with a triangle (bilinear) filter widened by the
// downscaling factor (antialiasing, as PIL and tf.image.resize(antialias=True)), then rounds half up
// and clips to 0..255 as PIL's 8-bit resampling does. An axis with scale 1 is left unchanged.
func resizePass(s *op.Scope, x, size, scale tf.Output) tf.Output {
	r := s.AddOperation(tf.OpSpec{
		Type:  "ScaleAndTranslate",
		Input: []tf.Input{x, size, scale, op.Const(s.SubScope("translation"), []float32{0, 0})},
		Attrs: map[string]any{"kernel_type": "triangle", "antialias": true},
	})
	if r == nil {
		return x
	}
	rounded := op.Floor(s.SubScope("round"), op.Add(s.SubScope("half"), r.Output(0), op.Const(s.SubScope("half_c"), float32(0.5))))
	return op.ClipByValue(s.SubScope("clip"), rounded, op.Const(s.SubScope("lo"), float32(0)), op.Const(s.SubScope("hi"), float32(255)))
}
