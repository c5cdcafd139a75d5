package ops

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// FusionAttention is the channel-spatial gate (the paper's CSCA). With cfg.Fusion "parallel" both
// branches read the same F and are fused before the sigmoid into one C×H×W map,
// M = σ(z_c ⊕ z_s) (broadcast sum of [N,1,1,C] and [N,H,W,1]), applied as F·M (or F·(1+M)); the
// channel branch carries the initial logit and the spatial BN's beta starts at 0. With "sequential" it is
// CBAM: the channel gate, then the spatial gate on its output, each a full gate. Variables: s/ca/...,
// s/sa/... as in ChannelAttention and SpatialAttention.
func FusionAttention(s *Scope, x tf.Output, cfg GateConfig) tf.Output {
	ca, sa := s.Sub("ca"), s.Sub("sa")
	switch cfg.Fusion {
	case "parallel":
		zc := ChannelLogits(ca, x, cfg.Reduction, cfg.initLogit())
		zs := SpatialLogits(sa, x, cfg.Kernel, cfg.BatchNorm, 0)
		return ApplyGate(s, x, s.Tensor(zc).Add(zs).Output, cfg.Form)
	case "sequential":
		return SpatialAttention(sa, ChannelAttention(ca, x, cfg), cfg)
	}
	s.Fail(fmt.Errorf("csca fusion %q: want parallel or sequential", cfg.Fusion))
	return x
}
