package ops

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// GateConfig configures the attention gates that sit at the end of a residual branch (CBAM's place):
// a gate computes logits z from its input F and returns F·σ(z) (plain form) or F·(1+σ(z)) (residual
// form, BAM's).
//
// Identity at initialisation: every gate's last layer starts with zero weights (the channel MLP's second
// Linear, the spatial branch's BN scale gamma), so at initialisation z is the same constant for every
// input, InitLogit for the plain form and -InitLogit for the residual form. With the default
// InitLogit (GateInitLogit, 6) the gate multiplies F by σ(6) = 0.99753 (plain) or 1+σ(-6) = 1.00247
// (residual) everywhere: a pretrained backbone keeps its function up to that 0.25% scale of each
// residual branch. An exact identity is out of reach for a sigmoid gate; a larger logit comes closer but
// shrinks the gate's gradient (σ'(6) = 0.0025 against σ'(0) = 0.25), so 6 is a compromise, and
// InitLogit (model.gate_init_logit) lets the trade-off be measured.
type GateConfig struct {
	Form      string          // plain | residual
	Reduction int             // channel MLP: C → max(1, C/Reduction) → C
	Kernel    int             // spatial convolution size (7)
	Fusion    string          // channel-spatial gate: parallel (one fused map) | sequential (CBAM's order)
	BatchNorm BatchNormConfig // the spatial branch's BN (GammaInit is ignored: it starts at 0)
	InitLogit float64         // magnitude of the gates' logit at initialisation, >= 0
}

// GateInitLogit is the default magnitude of a gate's logit at initialisation; see GateConfig.
const GateInitLogit = 6.0

// DefaultGateConfig is CBAM's gate: plain form, r = 16, a 7×7 spatial kernel, torchvision's BN;
// channel-spatial fusion in parallel.
func DefaultGateConfig() GateConfig {
	return GateConfig{Form: "plain", Reduction: 16, Kernel: 7, Fusion: "parallel", BatchNorm: DefaultBatchNorm(), InitLogit: GateInitLogit}
}

// initLogit is the gate's logit at initialisation for its form.
func (c GateConfig) initLogit() float64 {
	if c.Form == "residual" {
		return -c.InitLogit
	}
	return c.InitLogit
}

// Gate builds an attention gate on the NHWC residual-branch output x under s (whose path names the
// gate's variables, e.g. layer3/2/ca) and returns the gated tensor, of x's shape.
type Gate func(s *Scope, x tf.Output, cfg GateConfig) tf.Output

// NewGate maps the name of a gate to its builder, as timm's create_attn does: ca (ChannelAttention),
// sa (SpatialAttention) or csca (FusionAttention); the empty name is no gate and returns nil. The
// names are those of the scopes the gates' variables live under (layer3/2/ca/fc1/kernel). Which gate a
// model carries is the model's choice (nets.Attention), not a gate's.
func NewGate(kind string) (Gate, error) {
	switch kind {
	case "ca":
		return ChannelAttention, nil
	case "sa":
		return SpatialAttention, nil
	case "csca":
		return FusionAttention, nil
	case "":
		return nil, nil
	}
	return nil, fmt.Errorf("gate %q: want ca, sa or csca", kind)
}

// ApplyGate returns x·σ(logits) for the plain form and x·(1+σ(logits)) for the residual form; logits
// broadcast against x.
func ApplyGate(s *Scope, x, logits tf.Output, form string) tf.Output {
	m := s.Tensor(op.Sigmoid(s.Op(), logits))
	switch form {
	case "plain":
	case "residual":
		m.Add(s.Const(1))
	default:
		s.Fail(fmt.Errorf("gate form %q: want plain or residual", form))
		return x
	}
	return s.Tensor(x).Mul(m.Output).Output
}
