package ops

import (
	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// SpatialAttention is CBAM's spatial gate: Ms = σ(BN(conv_k×k([max over C of F ; mean over C of F]))),
// one output channel, no convolution bias and no ReLU, applied as F·Ms (or F·(1+Ms)) broadcast over C.
// Variables: s/conv/kernel [k, k, 2, 1], s/bn/{gamma, beta, moving_mean, moving_variance}.
func SpatialAttention(s *Scope, x tf.Output, cfg GateConfig) tf.Output {
	return ApplyGate(s, x, SpatialLogits(s, x, cfg.Kernel, cfg.BatchNorm, cfg.initLogit()), cfg.Form)
}

// SpatialLogits is the spatial gate before its sigmoid, [N, H, W, 1]. The BN starts with gamma 0 and
// beta init, so the logits start at init for every input (CBAM's official code zero-initialises gamma
// too).
func SpatialLogits(s *Scope, x tf.Output, kernel int, bn BatchNormConfig, init float64) tf.Output {
	axis := op.Const(s.Op(), int32(3))
	pooled := op.ConcatV2(s.Op(), []tf.Output{
		op.Max(s.Op(), x, axis, op.MaxKeepDims(true)),
		meanOver(s, x, []int32{3}, true),
	}, op.Const(s.Op(), int32(3)))
	z := Conv(s.Sub("conv"), pooled, ConvConfig{Out: 1, Kernel: kernel, Pad: (kernel - 1) / 2})
	bs := s.Sub("bn")
	// BatchNorm creates beta with zeros unless it exists: create it first with the initial logit.
	bs.Variable("beta", []int64{1}, Constant(init))
	bn.GammaInit = 0
	return BatchNorm(bs, z, bn)
}
