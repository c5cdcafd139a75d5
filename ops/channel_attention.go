package ops

import (
	"math"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// ChannelAttention is CBAM's channel gate: Mc = σ(MLP(AvgPool(F)) + MLP(MaxPool(F))) with one MLP
// C → C/r → C (Linear with bias, ReLU, Linear with bias) shared by both descriptors, applied as
// F·Mc (or F·(1+Mc)) broadcast over H and W. Variables: s/fc1/{kernel,bias}, s/fc2/{kernel,bias}.
func ChannelAttention(s *Scope, x tf.Output, cfg GateConfig) tf.Output {
	return ApplyGate(s, x, ChannelLogits(s, x, cfg.Reduction, cfg.initLogit()), cfg.Form)
}

// ChannelLogits is the channel gate before its sigmoid, [N, 1, 1, C]. The MLP's last Linear starts
// with a zero kernel and bias init/2 (both descriptors add it), so the logits start at init.
func ChannelLogits(s *Scope, x tf.Output, reduction int, init float64) tf.Output {
	c := int(x.Shape().Size(3))
	hidden := max(1, c/max(1, reduction))
	mlp := func(d tf.Output) tf.Output {
		h := Dense(s.Sub("fc1"), d, hidden, true) // torch.nn.Linear's initialisation
		h = ReLU(s, h)
		return linear(s.Sub("fc2"), h, c, Zeros(), Constant(init/2))
	}
	z := s.Tensor(mlp(GlobalAvgPool(s, x))).Add(mlp(GlobalMaxPool(s, x))).Output
	return op.Reshape(s.Op(), z, op.Const(s.Op(), []int32{-1, 1, 1, int32(c)}))
}

// linear is Dense with explicit initialisers: x [N, in] · kernel [in, out] + bias [out].
func linear(s *Scope, x tf.Output, out int, kernel, bias Initializer) tf.Output {
	in := x.Shape().Size(1)
	if kernel == nil {
		kernel = Uniform(1 / math.Sqrt(float64(in)))
	}
	w := s.Variable("kernel", []int64{in, int64(out)}, kernel)
	b := s.Variable("bias", []int64{int64(out)}, bias)
	return op.BiasAdd(s.Op(), s.Tensor(x).MatMul(w.Value).Output, b.Value)
}
