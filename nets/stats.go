package nets

import (
	"fmt"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// Stats returns the model's trainable parameter count and the cost of one forward pass, to the
// logits, of one imageSize×imageSize image in FLOPs, counting one multiply-add of a convolution or a
// dense layer as one FLOP (torchvision's convention: ResNet-50 at 224 is 4.09 GFLOPs). Batch norm,
// activations, pooling and the gates' elementwise products are not counted; the gates' MLPs and 7×7
// convolutions are. The counts come from the static shapes of the model built in a scratch graph.
func Stats(cfg Config, imageSize int) (params, flops int64, err error) {
	if imageSize < 1 {
		return 0, 0, fmt.Errorf("stats: image size %d", imageSize)
	}
	g := ops.NewGraph(0)
	images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, int64(imageSize), int64(imageSize), 3)))
	if _, err := Build(g.Head("stats", false), images, cfg); err != nil {
		return 0, 0, err
	}
	return g.ParamCount(), multiplyAdds(g.TF()), nil
}

// multiplyAdds sums the multiply-adds of the Conv2D and MatMul ops of a graph with static shapes,
// skipping the class activation maps (ops under a "cam" scope), which the logits do not need.
func multiplyAdds(g *tf.Graph) int64 {
	// The binding has no accessor for an op's inputs: find each kernel through its consumers.
	var total int64
	for _, o := range g.Operations() {
		for i := range o.NumOutputs() {
			out := o.Output(i)
			for _, c := range out.Consumers() {
				if c.Index != 1 || strings.Contains(c.Op.Name(), "/cam/") {
					continue
				}
				switch c.Op.Type() {
				case "Conv2D": // output [N, H, W, O] · (kh·kw·I) from the HWIO kernel
					k, _ := out.Shape().ToSlice()
					y, _ := c.Op.Output(0).Shape().ToSlice()
					total += product(y) * k[0] * k[1] * k[2]
				case "MatMul": // output [N, out] · in from the [in, out] kernel
					k, _ := out.Shape().ToSlice()
					y, _ := c.Op.Output(0).Shape().ToSlice()
					total += product(y) * k[0]
				}
			}
		}
	}
	return total
}

func product(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
