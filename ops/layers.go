package ops

import (
	"math"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// ConvConfig is a convolution's settings by name, as torch.nn.Conv2d's keyword arguments give them.
type ConvConfig struct {
	Out    int  // output channels
	Kernel int  // k of the k×k kernel
	Stride int  // 0 is 1
	Pad    int  // symmetric zero padding on each spatial side
	Bias   bool // add a "bias" variable (ResNets have none before a batch norm)
}

// Conv is a 2-D convolution of NHWC input x with a k×k kernel (HWIO variable s.Path()/kernel) with
// PyTorch's semantics. Stride-1 odd kernels with pad (k-1)/2 use SAME padding, which is then symmetric;
// every other case pads explicitly and convolves VALID, because TensorFlow's SAME pads asymmetrically
// for stride 2 and Conv2D's gradient ignores explicit paddings.
func Conv(s *Scope, x tf.Output, c ConvConfig) tf.Output {
	k, stride := c.Kernel, max(c.Stride, 1)
	in := x.Shape().Size(3)
	shape := []int64{int64(k), int64(k), in, int64(c.Out)}
	w := s.Variable("kernel", shape, HeNormalFanOut(shape))
	strides := []int64{1, int64(stride), int64(stride), 1}
	var y tf.Output
	if stride == 1 && k%2 == 1 && c.Pad == (k-1)/2 {
		y = op.Conv2D(s.Op(), x, w.Value, strides, "SAME")
	} else {
		if c.Pad > 0 {
			x = Pad(s, x, c.Pad, 0)
		}
		y = op.Conv2D(s.Op(), x, w.Value, strides, "VALID")
	}
	if c.Bias {
		fanIn := float64(k * k * int(in))
		b := s.Variable("bias", []int64{int64(c.Out)}, Uniform(1/math.Sqrt(fanIn)))
		y = op.BiasAdd(s.Op(), y, b.Value)
	}
	return y
}

// Conv2D is Conv with its settings in torch.nn.Conv2d's positional order, for short test graphs; model
// code names them (ConvConfig).
func Conv2D(s *Scope, x tf.Output, out, k, stride, pad int, bias bool) tf.Output {
	return Conv(s, x, ConvConfig{Out: out, Kernel: k, Stride: stride, Pad: pad, Bias: bias})
}

// Pad pads the spatial axes of NHWC x by p on every side with value.
func Pad(s *Scope, x tf.Output, p int, value float64) tf.Output {
	pp := int32(p)
	paddings := op.Const(s.Op().SubScope("paddings"), [][]int32{{0, 0}, {pp, pp}, {pp, pp}, {0, 0}})
	if value == 0 {
		return op.Pad(s.Op(), x, paddings)
	}
	return op.PadV2(s.Op(), x, paddings, s.Const(value))
}

// BatchNormConfig holds the batch-norm hyper-parameters; the defaults are torchvision's.
type BatchNormConfig struct {
	Epsilon  float64 // 1e-5
	Momentum float64 // weight of the new batch statistics in the moving averages: 0.1
	// GammaInit initialises the scale; zero-initialising the last BN of a branch makes it start as
	// identity (used for gates).
	GammaInit float64
	// Composed builds batch norm from primitive ops instead of FusedBatchNormV3. The fused op only
	// exists for float16/bfloat16/float32; the composed form runs in float64 for gradient checks.
	Composed bool
}

// DefaultBatchNorm is torchvision's BatchNorm2d: eps 1e-5, momentum 0.1, gamma 1.
func DefaultBatchNorm() BatchNormConfig {
	return BatchNormConfig{Epsilon: 1e-5, Momentum: 0.1, GammaInit: 1}
}

// BatchNorm normalises NHWC x per channel, with variables gamma, beta, moving_mean and
// moving_variance under s. In a training head it uses the batch statistics and registers the update of
// the moving averages (running = (1-momentum)·running + momentum·batch, with the unbiased batch
// variance, as torch does); in an inference head it uses the moving averages.
func BatchNorm(s *Scope, x tf.Output, cfg BatchNormConfig) tf.Output {
	c := x.Shape().Size(int(x.Shape().NumDimensions()) - 1)
	shape := []int64{c}
	gamma := s.Variable("gamma", shape, Constant(cfg.GammaInit))
	beta := s.Variable("beta", shape, Zeros())
	mean := s.Variable("moving_mean", shape, Zeros(), NotTrainable())
	variance := s.Variable("moving_variance", shape, Ones(), NotTrainable())
	if cfg.Composed || s.g.dtype != tf.Float {
		return composedBatchNorm(s, x, gamma, beta, mean, variance, cfg)
	}
	if !s.training {
		y, _, _, _, _, _ := op.FusedBatchNormV3(s.Op(), x, gamma.Value, beta.Value, mean.Value, variance.Value,
			op.FusedBatchNormV3Epsilon(float32(cfg.Epsilon)), op.FusedBatchNormV3IsTraining(false))
		return y
	}
	// With exponential_avg_factor f the op returns (1-f)·old + f·batch for both statistics, the
	// variance Bessel-corrected: exactly the new moving averages.
	y, newMean, newVar, _, _, _ := op.FusedBatchNormV3(s.Op(), x, gamma.Value, beta.Value, mean.Value, variance.Value,
		op.FusedBatchNormV3Epsilon(float32(cfg.Epsilon)), op.FusedBatchNormV3IsTraining(true),
		op.FusedBatchNormV3ExponentialAvgFactor(float32(cfg.Momentum)))
	s.AddUpdate(op.AssignVariableOp(s.Op().SubScope("update_mean"), mean.Handle, newMean))
	s.AddUpdate(op.AssignVariableOp(s.Op().SubScope("update_variance"), variance.Handle, newVar))
	return y
}

func composedBatchNorm(s *Scope, x tf.Output, gamma, beta, mean, variance *Variable, cfg BatchNormConfig) tf.Output {
	o := s.Op
	rank := int(x.Shape().NumDimensions())
	axes := make([]int32, rank-1)
	for i := range axes {
		axes[i] = int32(i)
	}
	m, v := mean.Value, variance.Value
	if s.training {
		ax := op.Const(o().SubScope("axes"), axes)
		m = op.Mean(o(), x, ax)
		v = op.Mean(o(), op.SquaredDifference(o(), x, m), ax)
		n := op.Cast(o(), op.Div(o(), op.Size(o(), x, op.SizeOutType(tf.Int64)), op.Cast(o(), op.Size(o(), m, op.SizeOutType(tf.Int64)), tf.Int64)), s.g.dtype)
		unbiased := s.Tensor(v).Mul(op.Div(o(), n, op.Maximum(o(), op.Sub(o(), n, s.Const(1)), s.Const(1)))).Output
		f := s.Const(cfg.Momentum)
		// old + f·(batch - old): the batch statistics reach the moving averages without a gradient.
		blend := func(old, batch tf.Output) tf.Output {
			return s.Tensor(old).Add(s.Tensor(f).Mul(op.Sub(o(), op.StopGradient(o(), batch), old)).Output).Output
		}
		s.AddUpdate(op.AssignVariableOp(o().SubScope("update_mean"), mean.Handle, blend(mean.Value, m)))
		s.AddUpdate(op.AssignVariableOp(o().SubScope("update_variance"), variance.Handle, blend(variance.Value, unbiased)))
	}
	// y = (x - m)·rsqrt(v + ε)·γ + β, left to right.
	scale := s.Tensor(op.Rsqrt(o(), s.Tensor(v).Add(s.Const(cfg.Epsilon)).Output)).Mul(gamma.Value)
	return s.Tensor(op.Sub(o(), x, m)).Mul(scale.Output).Add(beta.Value).Output
}

// ReLU is max(x, 0).
func ReLU(s *Scope, x tf.Output) tf.Output { return op.Relu(s.Op(), x) }

// PoolConfig is a pooling window's settings by name, as torch.nn.MaxPool2d's keyword arguments.
type PoolConfig struct {
	Kernel int // k of the k×k window
	Stride int // 0 is the window size, as in torch
	Pad    int // symmetric padding on each spatial side, with a value that never wins
}

// MaxPool is a max pool with PyTorch's semantics.
func MaxPool(s *Scope, x tf.Output, c PoolConfig) tf.Output {
	k, stride := int64(c.Kernel), int64(c.Stride)
	if stride == 0 {
		stride = k
	}
	if c.Pad > 0 {
		x = Pad(s, x, c.Pad, math.Inf(-1))
	}
	return op.MaxPool(s.Op(), x, []int64{1, k, k, 1}, []int64{1, stride, stride, 1}, "VALID")
}

// GlobalAvgPool averages NHWC x over its spatial axes: [N, C]. In a training head with a static H×W it
// is a Sum scaled by 1/(H·W) on the pooled [N, C]: Mean's gradient divides the broadcast gradient by the
// count over the whole NHWC tensor, one more full pass in every backward step than scaling before the
// broadcast. An inference head keeps Mean, one op where the scaled Sum is two.
func GlobalAvgPool(s *Scope, x tf.Output) tf.Output {
	return meanOver(s, x, []int32{1, 2}, false)
}

// meanOver is the mean of x over axes: in a training head a Sum scaled by the reciprocal count where
// the count is static (see GlobalAvgPool), else Mean.
func meanOver(s *Scope, x tf.Output, axes []int32, keepDims bool) tf.Output {
	shape, count := x.Shape(), int64(1)
	for _, a := range axes {
		if int(a) >= shape.NumDimensions() || shape.Size(int(a)) < 1 {
			count = 0
			break
		}
		count *= shape.Size(int(a))
	}
	ax := op.Const(s.Op().SubScope("axes"), axes)
	if count == 0 || !s.training {
		return op.Mean(s.Op(), x, ax, op.MeanKeepDims(keepDims))
	}
	return s.Tensor(op.Sum(s.Op(), x, ax, op.SumKeepDims(keepDims))).Mul(s.Const(1 / float64(count))).Output
}

// GlobalMaxPool takes the maximum of NHWC x over its spatial axes: [N, C]. With a static H×W it is an
// H×W MaxPool, as CBAM's reference code writes it: MaxPoolGrad sends the gradient to the maximum it
// finds again. The Max reduction's gradient divides by the number of elements equal to the forward
// maximum, which is 0 (and the gradient NaN) when XLA's auto-clustering recomputes x with another
// rounding; that reduction is kept only for shapes unknown until run time.
func GlobalMaxPool(s *Scope, x tf.Output) tf.Output {
	shape := x.Shape()
	if shape.NumDimensions() == 4 && shape.Size(1) > 0 && shape.Size(2) > 0 && shape.Size(3) > 0 {
		h, w := shape.Size(1), shape.Size(2)
		pooled := op.MaxPool(s.Op(), x, []int64{1, h, w, 1}, []int64{1, h, w, 1}, "VALID")
		return op.Reshape(s.Op(), pooled, op.Const(s.Op().SubScope("shape"), []int32{-1, int32(shape.Size(3))}))
	}
	return op.Max(s.Op(), x, op.Const(s.Op().SubScope("axes"), []int32{1, 2}))
}

// Dropout zeroes each element of x with probability rate in a training head and scales the rest by
// 1/(1-rate); in an inference head, and for rate 0, it is the identity. The mask is drawn statelessly
// from the head's StepSeed mixed with a hash of the scope's path, so it is reproducible.
func Dropout(s *Scope, x tf.Output, rate float64) tf.Output {
	if !s.training || rate <= 0 {
		return x
	}
	offset := op.Const(s.Op(), []int64{0, s.g.seedFor(s.path)[1]})
	seed := op.Add(s.Op(), s.StepSeed(), offset)
	u := op.StatelessRandomUniform(s.Op(), op.Shape(s.Op(), x), seed, op.StatelessRandomUniformDtype(x.DataType()))
	keep := op.Cast(s.Op(), op.GreaterEqual(s.Op(), u, s.Const(rate)), x.DataType())
	return s.Tensor(x).Mul(keep).Mul(s.Const(1 / (1 - rate))).Output
}

// Dense is x·kernel + bias for x [N, in], with variables kernel [in, out] and bias [out] under s,
// initialised as torch.nn.Linear (uniform ±1/√in).
func Dense(s *Scope, x tf.Output, out int, bias bool) tf.Output {
	in := x.Shape().Size(1)
	limit := 1 / math.Sqrt(float64(in))
	w := s.Variable("kernel", []int64{in, int64(out)}, Uniform(limit))
	y := s.Tensor(x).MatMul(w.Value).Output
	if bias {
		b := s.Variable("bias", []int64{int64(out)}, Uniform(limit))
		y = op.BiasAdd(s.Op(), y, b.Value)
	}
	return y
}

// SoftmaxCrossEntropy is the mean softmax cross-entropy of logits [N, K] against int32 labels [N], with
// label smoothing eps. It goes through OneHot and SoftmaxCrossEntropyWithLogits because the sparse op
// has no C++ gradient. That op's C++ gradient builds a float32 constant, so for other types the loss is
// composed as -Σ onehot·LogSoftmax(logits) (TestCrossEntropyFusedMatchesComposed ties the two).
func SoftmaxCrossEntropy(s *Scope, logits, labels tf.Output, classes int, smoothing float64) tf.Output {
	return SoftmaxCrossEntropyFor(s, logits, labels, classes, smoothing, logits.DataType() != tf.Float)
}

// SoftmaxCrossEntropyFor is SoftmaxCrossEntropy with the form chosen explicitly (composed or fused).
func SoftmaxCrossEntropyFor(s *Scope, logits, labels tf.Output, classes int, smoothing float64, composed bool) tf.Output {
	on, off := 1-smoothing+smoothing/float64(classes), smoothing/float64(classes)
	onehot := op.OneHot(s.Op(), labels, op.Const(s.Op(), int32(classes)), s.Const(on), s.Const(off))
	var loss tf.Output
	if composed {
		perClass := op.Mul(s.Op(), onehot, op.LogSoftmax(s.Op(), logits))
		loss = op.Neg(s.Op(), op.Sum(s.Op(), perClass, op.Const(s.Op(), []int32{1})))
	} else {
		loss, _ = op.SoftmaxCrossEntropyWithLogits(s.Op(), logits, onehot)
	}
	return op.Mean(s.Op(), loss, op.Const(s.Op(), []int32{0}))
}
