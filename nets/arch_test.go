package nets

import (
	"strings"
	"testing"
)

func TestArchitectureDiff(t *testing.T) {
	base := DefaultConfig()
	base.Attention, base.GateForm = "csca", "residual"
	cases := []struct {
		name string
		edit func(*Config)
		want string // "" means the same architecture
	}{
		{"same", func(*Config) {}, ""},
		{"dropout is training only", func(c *Config) { c.Dropout = 0.5 }, ""},
		{"gate form", func(c *Config) { c.GateForm = "plain" }, "model.gate_form: residual vs plain"},
		{"classes", func(c *Config) { c.NumClasses = 6 }, "model.num_classes: 1000 vs 6"},
		{"depth", func(c *Config) { c.Depth = 18 }, "model.depth: 50 vs 18"},
		{"variant", func(c *Config) { c.Attention = "sa" }, "model.attention: csca vs sa"},
		{"fusion", func(c *Config) { c.CSCAFusion = "sequential" }, "model.csca_fusion"},
		{"reduction", func(c *Config) { c.Reduction = 8 }, "model.reduction: 16 vs 8"},
		{"stages", func(c *Config) { c.AttentionStages = []int{4} }, "model.attention_stages"},
		{"all stages listed or nil", func(c *Config) { c.AttentionStages = nil }, ""},
		{"width", func(c *Config) { c.WidthMultiplier = 0.5 }, "model.width_multiplier: 1 vs 0.5"},
	}
	for _, c := range cases {
		other := base
		other.AttentionStages = append([]int(nil), base.AttentionStages...)
		c.edit(&other)
		got := strings.Join(base.ArchitectureDiff(other), "; ")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: diff %q, want %q", c.name, got, c.want)
		}
	}
	// Settings of gates that a model does not have make no difference.
	none, other := DefaultConfig(), DefaultConfig()
	other.GateForm, other.Reduction, other.CSCAFusion = "residual", 4, "sequential"
	if d := none.ArchitectureDiff(other); len(d) != 0 {
		t.Errorf("a model without gates differs by gate settings: %v", d)
	}
}
