package nets

import (
	"fmt"
	"slices"

	"github.com/finegrain/finegrain/ops"
)

// Config selects and sizes a model. The zero value is not valid; start from DefaultConfig. Its JSON
// names are the model.* configuration keys (exported/ stores it in a SavedModel's metadata.json).
type Config struct {
	Attention       string  `json:"attention"`        // model.attention: none | fcn | ca | sa | csca
	Depth           int     `json:"depth"`            // model.depth: 18 | 34 | 50 | 101
	NumClasses      int     `json:"num_classes"`      // classifier outputs K
	WidthMultiplier float64 `json:"width_multiplier"` // scales every channel count (1.0 = torchvision)
	CSCAFusion      string  `json:"csca_fusion"`      // model.csca_fusion: parallel | sequential (csca only)
	GateForm        string  `json:"gate_form"`        // model.gate_form: plain (F·M) | residual (F·(1+M))
	Reduction       int     `json:"reduction"`        // channel-attention MLP reduction r
	AttentionStages []int   `json:"attention_stages"` // stages (1..4) whose blocks carry the gate; nil means all, empty none
	Dropout         float64 `json:"dropout"`          // dropout rate before the classifier, in [0, 1)
	// GateInitLogit is the magnitude of the gates' logit at initialisation (model.gate_init_logit; see
	// ops.GateConfig). It decides where training starts, not what the model computes.
	GateInitLogit float64 `json:"gate_init_logit"`
}

// DefaultConfig is torchvision's ResNet-50 with a 1000-class classifier and no attention; the attention
// settings are those of the paper (CBAM's r = 16, gates in every stage, parallel fusion, plain form).
func DefaultConfig() Config {
	return Config{
		Attention:       "none",
		Depth:           50,
		NumClasses:      1000,
		WidthMultiplier: 1,
		CSCAFusion:      "parallel",
		GateForm:        "plain",
		Reduction:       16,
		AttentionStages: []int{1, 2, 3, 4},
		Dropout:         0,
		GateInitLogit:   ops.GateInitLogit,
	}
}

// MaxGateInitLogit bounds model.gate_init_logit: past it σ'(L) underflows float32 and the gates could
// never move.
const MaxGateInitLogit = 30.0

// Variants lists the values of model.attention in the order of the paper's table.
var variants = []string{"none", "fcn", "ca", "sa", "csca"}

// Variants returns the values Config.Attention accepts, in the order of the paper's table.
func Variants() []string { return slices.Clone(variants) }

// Validate reports the first setting that cannot be built, naming its configuration key and value.
func (c Config) Validate() error {
	if !slices.Contains(variants, c.Attention) {
		return fmt.Errorf("model.attention %q: want one of %v", c.Attention, variants)
	}
	if _, ok := depthTable[c.Depth]; !ok {
		return fmt.Errorf("model.depth %d: want 18, 34, 50 or 101", c.Depth)
	}
	if c.NumClasses < 1 {
		return fmt.Errorf("model.num_classes %d: want at least 1", c.NumClasses)
	}
	if !(c.WidthMultiplier > 0 && c.WidthMultiplier <= 16) {
		return fmt.Errorf("model.width_multiplier %g: want a value in (0, 16]", c.WidthMultiplier)
	}
	if c.CSCAFusion != "parallel" && c.CSCAFusion != "sequential" {
		return fmt.Errorf("model.csca_fusion %q: want parallel or sequential", c.CSCAFusion)
	}
	if c.GateForm != "plain" && c.GateForm != "residual" {
		return fmt.Errorf("model.gate_form %q: want plain or residual", c.GateForm)
	}
	if c.Reduction < 1 {
		return fmt.Errorf("model.reduction %d: want at least 1", c.Reduction)
	}
	seen := map[int]bool{}
	for _, st := range c.AttentionStages {
		if st < 1 || st > 4 || seen[st] {
			return fmt.Errorf("model.attention_stages %v: want distinct stages among 1, 2, 3, 4", c.AttentionStages)
		}
		seen[st] = true
	}
	if !(c.GateInitLogit >= 0 && c.GateInitLogit <= MaxGateInitLogit) {
		return fmt.Errorf("model.gate_init_logit %g: want a value in [0, %g]", c.GateInitLogit, MaxGateInitLogit)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return fmt.Errorf("model.dropout %g: want a rate in [0, 1)", c.Dropout)
	}
	return nil
}

// ArchitectureDiff lists, as "key: a vs b", every setting in which c and o build different variables or
// compute differently from the same variables. Dropout is left out: it changes training, not the model.
func (c Config) ArchitectureDiff(o Config) []string {
	var d []string
	add := func(key string, a, b any) { d = append(d, fmt.Sprintf("model.%s: %v vs %v", key, a, b)) }
	if c.Attention != o.Attention {
		add("attention", c.Attention, o.Attention)
	}
	if c.Depth != o.Depth {
		add("depth", c.Depth, o.Depth)
	}
	if c.NumClasses != o.NumClasses {
		add("num_classes", c.NumClasses, o.NumClasses)
	}
	if c.WidthMultiplier != o.WidthMultiplier {
		add("width_multiplier", c.WidthMultiplier, o.WidthMultiplier)
	}
	if c.Attention != o.Attention {
		return d // the settings of the gates below belong to one variant
	}
	if c.Attention == "csca" && c.CSCAFusion != o.CSCAFusion {
		add("csca_fusion", c.CSCAFusion, o.CSCAFusion)
	}
	gated := c.hasGate(1) || c.hasGate(2) || c.hasGate(3) || c.hasGate(4) || o.hasGate(1) || o.hasGate(2) || o.hasGate(3) || o.hasGate(4)
	if gated && c.GateForm != o.GateForm {
		add("gate_form", c.GateForm, o.GateForm)
	}
	if gated && (c.Attention == "ca" || c.Attention == "csca") && c.Reduction != o.Reduction {
		add("reduction", c.Reduction, o.Reduction)
	}
	for stage := 1; stage <= 4; stage++ {
		if c.hasGate(stage) != o.hasGate(stage) {
			add("attention_stages", stagesString(c.AttentionStages), stagesString(o.AttentionStages))
			break
		}
	}
	return d
}

func stagesString(s []int) string {
	if s == nil {
		return "all"
	}
	return fmt.Sprint(s)
}

// hasGate reports whether the blocks of stage (1..4) carry the attention gate.
func (c Config) hasGate(stage int) bool {
	switch c.Attention {
	case "ca", "sa", "csca":
	default:
		return false
	}
	return c.AttentionStages == nil || slices.Contains(c.AttentionStages, stage)
}

// arch is one row of torchvision's depth table.
type arch struct {
	bottleneck bool
	blocks     [4]int
}

var depthTable = map[int]arch{
	18:  {false, [4]int{2, 2, 2, 2}},
	34:  {false, [4]int{3, 4, 6, 3}},
	50:  {true, [4]int{3, 4, 6, 3}},
	101: {true, [4]int{3, 4, 23, 3}},
}
