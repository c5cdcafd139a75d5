package nets_test

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

// The paper's models side by side: parameters and GFLOPs of one 224×224 image.
func ExampleStats() {
	for _, v := range nets.Attentions() {
		cfg := nets.DefaultConfig()
		cfg.Attention, cfg.NumClasses = v, 200
		params, flops, err := nets.Stats(cfg, 224)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-4s %d parameters, %.2f GFLOPs\n", v, params, float64(flops)/1e9)
	}
	// Output:
	// none 23917832 parameters, 4.09 GFLOPs
	// fcn  23917832 parameters, 4.11 GFLOPs
	// ca   26448824 parameters, 4.09 GFLOPs
	// sa   23919432 parameters, 4.09 GFLOPs
	// csca 26450424 parameters, 4.09 GFLOPs
}

// A channel-spatial attention ResNet-18 with an inference head: logits, class activation maps and the
// last feature map for two 64×64 images.
func ExampleBuild() {
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.NumClasses = "csca", 18, 10
	g := ops.NewGraph(1)
	images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(2, 64, 64, 3)))
	out, err := nets.Build(g.Head("eval", false), images, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits", out.Logits.Shape(), "CAM", out.CAM.Shape(), "features", out.Features.Shape())
	fmt.Println(g.Lookup("layer3/1/csca/ca/fc1/kernel").Shape, g.Lookup("layer3/1/csca/sa/conv/kernel").Shape)
	// Output:
	// logits [2, 10] CAM [2, 2, 2, 10] features [2, 2, 2, 512]
	// [256 16] [7 7 2 1]
}
