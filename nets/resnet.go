package nets

import (
	"fmt"
	"math"
	"strconv"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// Outputs are the tensors a model head exposes.
type Outputs struct {
	Logits   tf.Output // [N, K]
	CAM      tf.Output // [N, h, w, K] class activation maps; their spatial mean is Logits
	Features tf.Output // last feature map [N, h, w, C]
}

// ImageNet statistics of torchvision's transforms.Normalize.
var (
	imagenetMean = []float64{0.485, 0.456, 0.406}
	imagenetStd  = []float64{0.229, 0.224, 0.225}
)

// Build adds the model under head scope s for images: float32 [N, H, W, 3] RGB in 0..255. ImageNet
// mean/std normalisation, (x/255 - mean)/std as torchvision's ToTensor and Normalize, happens here (the
// only place in the project). In a graph of another floating type the images are cast first and the
// outputs have that type. Graph-building failures come back as errors naming the model.
func Build(s *ops.Scope, images tf.Output, cfg Config) (Outputs, error) {
	if err := cfg.Validate(); err != nil {
		return Outputs{}, err
	}
	if sh := images.Shape(); sh.NumDimensions() != 4 || sh.Size(3) != 3 {
		return Outputs{}, fmt.Errorf("nets: images have shape %v, want [N, H, W, 3]", sh)
	}
	gate := cfg.Attention.gate()
	var out Outputs
	err := ops.Catch(fmt.Sprintf("%s-resnet%d under %q", cfg.Attention, cfg.Depth, s.Path()), s.Graph(), func() error {
		out = resnet(s, images, cfg, gate)
		return nil
	})
	return out, err
}

// resnet is torchvision's ResNet.forward: stem, four stages of blocks, then the classifier head.
func resnet(s *ops.Scope, images tf.Output, cfg Config, gate ops.Gate) Outputs {
	a, bn := depthTable[cfg.Depth], ops.DefaultBatchNorm()
	x := normalise(s, images)
	x = ops.Conv(s.Sub("conv1"), x, ops.ConvConfig{Out: cfg.width(64), Kernel: 7, Stride: 2, Pad: 3})
	x = ops.ReLU(s, ops.BatchNorm(s.Sub("bn1"), x, bn))
	x = ops.MaxPool(s, x, ops.PoolConfig{Kernel: 3, Stride: 2, Pad: 1})
	gc := ops.GateConfig{Form: string(cfg.GateForm), Reduction: cfg.Reduction, Kernel: 7, Fusion: string(cfg.CSCAFusion), BatchNorm: bn, InitLogit: cfg.GateInitLogit}
	for i, n := range a.blocks {
		stage := s.Sub("layer" + strconv.Itoa(i+1))
		g := gating{cfg: gc, name: string(cfg.Attention)}
		if cfg.hasGate(i + 1) {
			g.gate = gate
		}
		for j := range n {
			stride := 1
			if i > 0 && j == 0 {
				stride = 2
			}
			b := stage.Sub(strconv.Itoa(j))
			if a.bottleneck {
				x = bottleneck(b, x, cfg.width(64<<i), stride, g)
			} else {
				x = basicBlock(b, x, cfg.width(64<<i), stride, g)
			}
		}
	}
	return head(s, x, cfg)
}

// expansion is torchvision's Bottleneck.expansion: a bottleneck block outputs expansion·planes channels.
const expansion = 4

// conv3x3 is torchvision's conv3x3: a 3×3 convolution with padding 1 and no bias.
func conv3x3(s *ops.Scope, x tf.Output, planes, stride int) tf.Output {
	return ops.Conv(s, x, ops.ConvConfig{Out: planes, Kernel: 3, Stride: stride, Pad: 1})
}

// conv1x1 is torchvision's conv1x1: a 1×1 convolution without bias.
func conv1x1(s *ops.Scope, x tf.Output, planes, stride int) tf.Output {
	return ops.Conv(s, x, ops.ConvConfig{Out: planes, Kernel: 1, Stride: stride})
}

// bottleneck is torchvision's Bottleneck (v1.5, stride on the 3×3 conv) with the gate after bn3:
// 1×1 → BN → ReLU → 3×3 → BN → ReLU → 1×1 → BN → [gate] → + shortcut → ReLU.
func bottleneck(s *ops.Scope, x tf.Output, planes, stride int, gate gating) tf.Output {
	bn := ops.DefaultBatchNorm()
	out := conv1x1(s.Sub("conv1"), x, planes, 1)
	out = ops.ReLU(s, ops.BatchNorm(s.Sub("bn1"), out, bn))
	out = conv3x3(s.Sub("conv2"), out, planes, stride)
	out = ops.ReLU(s, ops.BatchNorm(s.Sub("bn2"), out, bn))
	out = conv1x1(s.Sub("conv3"), out, planes*expansion, 1)
	out = gate.apply(s, ops.BatchNorm(s.Sub("bn3"), out, bn))
	return ops.ReLU(s, s.Tensor(out).Add(shortcut(s, x, planes*expansion, stride)).Output)
}

// basicBlock is torchvision's BasicBlock (depths 18 and 34, expansion 1) with the gate after bn2.
func basicBlock(s *ops.Scope, x tf.Output, planes, stride int, gate gating) tf.Output {
	bn := ops.DefaultBatchNorm()
	out := conv3x3(s.Sub("conv1"), x, planes, stride)
	out = ops.ReLU(s, ops.BatchNorm(s.Sub("bn1"), out, bn))
	out = conv3x3(s.Sub("conv2"), out, planes, 1)
	out = gate.apply(s, ops.BatchNorm(s.Sub("bn2"), out, bn))
	return ops.ReLU(s, s.Tensor(out).Add(shortcut(s, x, planes, stride)).Output)
}

// gating is a block's attention gate: none, or the builder with its configuration and scope name.
type gating struct {
	gate ops.Gate
	cfg  ops.GateConfig
	name string // ca, sa or csca: the gate's variables live under block/name/
}

func (g gating) apply(s *ops.Scope, x tf.Output) tf.Output {
	if g.gate == nil {
		return x
	}
	return g.gate(s.Sub(g.name), x, g.cfg)
}

// shortcut is the identity, or torchvision's downsample (1×1 conv with stride, BN) when the shape changes.
func shortcut(s *ops.Scope, x tf.Output, out, stride int) tf.Output {
	if stride == 1 && int(x.Shape().Size(3)) == out {
		return x
	}
	d := s.Sub("downsample")
	return ops.BatchNorm(d.Sub("1"), conv1x1(d.Sub("0"), x, out, stride), ops.DefaultBatchNorm())
}

// head is the classifier over the last feature map F. GAP→FC models give logits = fc(dropout(mean F))
// and CAM_k = Σ_c w_ck F_c + b_k; fcn applies the same linear map as a 1×1 convolution to dropout(F)
// and averages the maps. Either way the spatial mean of the CAMs is the logits (in inference heads).
func head(s *ops.Scope, f tf.Output, cfg Config) Outputs {
	c, k := f.Shape().Size(3), int64(cfg.NumClasses)
	fc := s.Sub("fc")
	if cfg.Attention == AttentionFCN {
		// torch.nn.Linear's initialisation, so fcn and none start from the same distribution.
		limit := 1 / math.Sqrt(float64(c))
		w := fc.Variable("kernel", []int64{1, 1, c, k}, ops.Uniform(limit))
		b := fc.Variable("bias", []int64{k}, ops.Uniform(limit))
		d := ops.Dropout(s.Sub("dropout"), f, cfg.Dropout)
		cam := op.BiasAdd(fc.Op(), op.Conv2D(fc.Op(), d, w.Value, []int64{1, 1, 1, 1}, "VALID"), b.Value)
		return Outputs{Logits: ops.GlobalAvgPool(s, cam), CAM: cam, Features: f}
	}
	d := ops.Dropout(s.Sub("dropout"), ops.GlobalAvgPool(s, f), cfg.Dropout)
	logits := ops.Dense(fc, d, cfg.NumClasses, true)
	// The CAMs apply fc's kernel at every position (ops under "cam", which Stats leaves out).
	g, cs := s.Graph(), s.Sub("cam")
	w, b := g.Lookup(fc.Path()+"/kernel"), g.Lookup(fc.Path()+"/bias")
	kernel := op.Reshape(cs.Op(), w.Value, op.Const(cs.Op(), []int64{1, 1, c, k}))
	cam := op.BiasAdd(cs.Op(), op.Conv2D(cs.Op(), f, kernel, []int64{1, 1, 1, 1}, "VALID"), b.Value)
	return Outputs{Logits: logits, CAM: cam, Features: f}
}

// normalise maps RGB 0..255 to torchvision's normalised input: (x/255 - mean)/std per channel.
func normalise(s *ops.Scope, images tf.Output) tf.Output {
	dt := s.Graph().DType()
	vec := func(v []float64) tf.Output { return op.Cast(s.Op(), op.Const(s.Op(), v), dt) }
	x := images
	if x.DataType() != dt {
		x = op.Cast(s.Op(), x, dt)
	}
	x = op.Div(s.Op(), x, s.Const(255))
	return op.Div(s.Op(), op.Sub(s.Op(), x, vec(imagenetMean)), vec(imagenetStd))
}

// width scales a torchvision channel count by the width multiplier.
func (c Config) width(channels int) int {
	return max(1, int(math.Round(float64(channels)*c.WidthMultiplier)))
}
