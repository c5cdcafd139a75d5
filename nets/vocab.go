package nets

import (
	"fmt"
	"slices"
	"strings"

	"github.com/finegrain/finegrain/ops"
)

// The model's vocabulary: the values of model.attention, model.gate_form and model.csca_fusion. They are
// string types, so that a configuration file, a run's state.json and a SavedModel's metadata.json keep
// the words they always had. Reading text (UnmarshalText, for JSON and YAML) takes any word, so that a
// wrong one reaches Config.Validate, which reports it under its key with every other problem of the
// file; the Parse functions refuse it at once, for flags and other single values.

// Attention is model.attention: the head or gate a ResNet carries (see the package documentation).
type Attention string

// The attention variants, in the order of the paper's table.
const (
	AttentionNone Attention = "none" // global average pool → fully connected classifier
	AttentionFCN  Attention = "fcn"  // 1×1-convolution classifier whose maps are the CAMs
	AttentionCA   Attention = "ca"   // CBAM's channel gate in every block of the gated stages
	AttentionSA   Attention = "sa"   // CBAM's spatial gate
	AttentionCSCA Attention = "csca" // both gates, fused (model.csca_fusion)
)

// attentions is the one list of the variants; Attentions hands out copies.
var attentions = []Attention{AttentionNone, AttentionFCN, AttentionCA, AttentionSA, AttentionCSCA}

// Attentions returns every Attention in the order of the paper's table (its columns).
func Attentions() []Attention { return slices.Clone(attentions) }

// Variants returns the values of model.attention as words, in the order of the paper's table, for
// flags and reports that handle variants as text.
func Variants() []string { return names(attentions) }

// ParseAttention reads a value of model.attention.
func ParseAttention(s string) (Attention, error) { return parse("attention", s, attentions) }

func (a Attention) String() string { return string(a) }

// MarshalText writes the word, whatever it is, so that an invalid configuration can still be shown.
func (a Attention) MarshalText() ([]byte, error) { return []byte(a), nil }

// UnmarshalText takes the word as it is; Config.Validate judges it.
func (a *Attention) UnmarshalText(b []byte) error { *a = Attention(b); return nil }

// Gated reports whether the variant puts an attention gate in the residual blocks (ca, sa, csca).
func (a Attention) Gated() bool { return a.gate() != nil }

// HasChannelGate reports whether the variant's gate has the channel MLP (ca, csca), whose width
// model.reduction sets.
func (a Attention) HasChannelGate() bool { return a == AttentionCA || a == AttentionCSCA }

// gate is the ops builder of the variant's block gate, nil for none, fcn and unknown values. nets, not
// ops, decides which gate a variant carries: ops knows gates, not variants.
func (a Attention) gate() ops.Gate {
	switch a {
	case AttentionCA:
		return ops.ChannelAttention
	case AttentionSA:
		return ops.SpatialAttention
	case AttentionCSCA:
		return ops.FusionAttention
	}
	return nil
}

// GateForm is model.gate_form: how a gate applies its map M to the block's features F.
type GateForm string

// The gate forms.
const (
	GatePlain    GateForm = "plain"    // F·M, CBAM's
	GateResidual GateForm = "residual" // F·(1+M), BAM's
)

var gateForms = []GateForm{GatePlain, GateResidual}

// GateForms returns every GateForm.
func GateForms() []GateForm { return slices.Clone(gateForms) }

// ParseGateForm reads a value of model.gate_form.
func ParseGateForm(s string) (GateForm, error) { return parse("gate form", s, gateForms) }

func (f GateForm) String() string { return string(f) }

// MarshalText writes the word, whatever it is.
func (f GateForm) MarshalText() ([]byte, error) { return []byte(f), nil }

// UnmarshalText takes the word as it is; Config.Validate judges it.
func (f *GateForm) UnmarshalText(b []byte) error { *f = GateForm(b); return nil }

// CSCAFusion is model.csca_fusion: how the csca gate combines its channel and spatial branches.
type CSCAFusion string

// The fusions of the channel-spatial gate.
const (
	FusionParallel   CSCAFusion = "parallel"   // one C×H×W map, the branches' logits added before the sigmoid
	FusionSequential CSCAFusion = "sequential" // CBAM's order: the channel gate, then the spatial gate
)

var fusions = []CSCAFusion{FusionParallel, FusionSequential}

// CSCAFusions returns every CSCAFusion.
func CSCAFusions() []CSCAFusion { return slices.Clone(fusions) }

// ParseCSCAFusion reads a value of model.csca_fusion.
func ParseCSCAFusion(s string) (CSCAFusion, error) { return parse("csca fusion", s, fusions) }

func (f CSCAFusion) String() string { return string(f) }

// MarshalText writes the word, whatever it is.
func (f CSCAFusion) MarshalText() ([]byte, error) { return []byte(f), nil }

// UnmarshalText takes the word as it is; Config.Validate judges it.
func (f *CSCAFusion) UnmarshalText(b []byte) error { *f = CSCAFusion(b); return nil }

// word is one of the vocabulary's types.
type word interface {
	~string
}

func names[T word](all []T) []string {
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

// oneOf is the "want" of a message about a value that is not among all, in configuration words.
func oneOf[T word](all []T) string { return "want one of " + strings.Join(names(all), ", ") }

func parse[T word](what, s string, all []T) (T, error) {
	if !slices.Contains(all, T(s)) {
		return "", fmt.Errorf("%s %q: %s", what, s, oneOf(all))
	}
	return T(s), nil
}
