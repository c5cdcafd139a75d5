package nets

import (
	"fmt"
	"slices"

	"github.com/finegrain/finegrain/ops"
)

// Config selects and sizes a model: the model.* section of a training configuration. The zero value is
// not valid; start from DefaultConfig. Its JSON and YAML names are the model.* configuration keys
// (exported/ stores it in a SavedModel's metadata.json, train in a run's state.json), and its doc tags are
// the key reference that configs/README.md shows, so that train embeds it instead of repeating it.
type Config struct {
	Attention       Attention `json:"attention" yaml:"attention" doc:"attention variant: none, fcn, ca, sa or csca"`
	Depth           int       `json:"depth" yaml:"depth" doc:"ResNet depth: 18, 34, 50 or 101"`
	NumClasses      int       `json:"num_classes" yaml:"num_classes" doc:"classifier outputs, at most 100000; 0 takes the dataset's class count (a different non-zero value is an error)"`
	WidthMultiplier float64   `json:"width_multiplier" yaml:"width_multiplier" doc:"scales every channel count (1 = torchvision's widths; model.pretrained needs weights of the same width)"`
	// CSCAFusion only matters to csca.
	CSCAFusion CSCAFusion `json:"csca_fusion" yaml:"csca_fusion" doc:"csca only: parallel (one fused channel×spatial map) or sequential (CBAM order)"`
	GateForm   GateForm   `json:"gate_form" yaml:"gate_form" doc:"gate form: plain (F·M) or residual (F·(1+M))"`
	// GateInitLogit is the magnitude of the gates' logit at initialisation (see ops.GateConfig). It
	// decides where training starts, not what the model computes.
	GateInitLogit float64 `json:"gate_init_logit" yaml:"gate_init_logit" doc:"magnitude of every gate's logit at initialisation: gates start at σ(L) (plain) or 1+σ(−L) (residual); larger starts nearer identity with smaller gate gradients; 0 to 30"`
	// Reduction is the channel-attention MLP's r: C → max(1, C/r) → C.
	Reduction int `json:"reduction" yaml:"reduction" doc:"channel-attention MLP reduction r, 1 to 1024"`
	// AttentionStages are the stages (1..4) whose blocks carry the gate; nil means all, empty none (a
	// configuration file refuses the empty list, whose meaning a reader could guess either way).
	AttentionStages []int   `json:"attention_stages" yaml:"attention_stages" doc:"ResNet stages (1-4) whose blocks carry the gate; an empty list is refused (leave the key out for every stage, or use model.attention: none)"`
	Dropout         float64 `json:"dropout" yaml:"dropout" doc:"dropout rate before the classifier, in [0, 1)"`
}

// DefaultConfig is torchvision's ResNet-50 with a 1000-class classifier and no attention; the attention
// settings are those of the paper (CBAM's r = 16, gates in every stage, parallel fusion, plain form).
func DefaultConfig() Config {
	return Config{
		Attention:       AttentionNone,
		Depth:           50,
		NumClasses:      1000,
		WidthMultiplier: 1,
		CSCAFusion:      FusionParallel,
		GateForm:        GatePlain,
		Reduction:       16,
		AttentionStages: []int{1, 2, 3, 4},
		Dropout:         0,
		GateInitLogit:   ops.GateInitLogit,
	}
}

// Bounds of the settings: past MaxGateInitLogit σ'(L) underflows float32 and the gates could never
// move; past MaxReduction the MLP of every stage keeps one hidden unit; MaxNumClasses is far above any
// dataset (iNaturalist 2021 has 10,000) and keeps the classifier's size from overflowing.
const (
	MaxGateInitLogit = 30.0
	MaxReduction     = 1024
	MaxNumClasses    = 100_000
)

// SettingError is one setting of a Config that cannot be built: its configuration key, its value as a
// user wrote it (strings quoted) and what is wanted instead. train reports every one of them in its own
// format; Validate returns the first.
type SettingError struct {
	Key, Value, Want string
}

func (e *SettingError) Error() string { return e.Key + " " + e.Value + ": " + e.Want }

// Problems lists every setting that cannot be built, in the order of Config's fields.
func (c Config) Problems() []*SettingError {
	var p []*SettingError
	bad := func(key string, v any, want string) {
		s := fmt.Sprint(v)
		if str, ok := v.(string); ok {
			s = fmt.Sprintf("%q", str)
		}
		p = append(p, &SettingError{Key: key, Value: s, Want: want})
	}
	if !slices.Contains(attentions, c.Attention) {
		bad("model.attention", string(c.Attention), oneOf(attentions))
	}
	if _, ok := depthTable[c.Depth]; !ok {
		bad("model.depth", c.Depth, "want 18, 34, 50 or 101")
	}
	if c.NumClasses < 1 || c.NumClasses > MaxNumClasses {
		bad("model.num_classes", c.NumClasses, fmt.Sprintf("want 1 to %d", MaxNumClasses))
	}
	if !(c.WidthMultiplier > 0 && c.WidthMultiplier <= 16) {
		bad("model.width_multiplier", c.WidthMultiplier, "want a value in (0, 16]")
	}
	if !slices.Contains(fusions, c.CSCAFusion) {
		bad("model.csca_fusion", string(c.CSCAFusion), oneOf(fusions))
	}
	if !slices.Contains(gateForms, c.GateForm) {
		bad("model.gate_form", string(c.GateForm), oneOf(gateForms))
	}
	if !(c.GateInitLogit >= 0 && c.GateInitLogit <= MaxGateInitLogit) {
		bad("model.gate_init_logit", c.GateInitLogit, fmt.Sprintf("want a value in [0, %g]", MaxGateInitLogit))
	}
	if c.Reduction < 1 || c.Reduction > MaxReduction {
		bad("model.reduction", c.Reduction, fmt.Sprintf("want 1 to %d", MaxReduction))
	}
	seen := map[int]bool{}
	for _, st := range c.AttentionStages {
		if st < 1 || st > 4 || seen[st] {
			bad("model.attention_stages", c.AttentionStages, "want distinct stages among 1, 2, 3, 4")
			break
		}
		seen[st] = true
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		bad("model.dropout", c.Dropout, "want a rate in [0, 1)")
	}
	return p
}

// Validate reports the first setting that cannot be built (a *SettingError), naming its configuration
// key and value.
func (c Config) Validate() error {
	if p := c.Problems(); len(p) > 0 {
		return p[0]
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
	if c.Attention == AttentionCSCA && c.CSCAFusion != o.CSCAFusion {
		add("csca_fusion", c.CSCAFusion, o.CSCAFusion)
	}
	gated := c.hasGate(1) || c.hasGate(2) || c.hasGate(3) || c.hasGate(4) || o.hasGate(1) || o.hasGate(2) || o.hasGate(3) || o.hasGate(4)
	if gated && c.GateForm != o.GateForm {
		add("gate_form", c.GateForm, o.GateForm)
	}
	if gated && c.Attention.HasChannelGate() && c.Reduction != o.Reduction {
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
	return c.Attention.Gated() && (c.AttentionStages == nil || slices.Contains(c.AttentionStages, stage))
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
