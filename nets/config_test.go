package nets

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, tc := range []struct {
		change func(*Config)
		key    string // "" = valid
	}{
		{func(c *Config) { c.Attention = "csca" }, ""},
		{func(c *Config) { c.AttentionStages = nil }, ""},
		{func(c *Config) { c.Depth, c.WidthMultiplier, c.Dropout = 18, 0.25, 0.5 }, ""},
		{func(c *Config) { c.Attention = "cbam" }, "model.attention"},
		{func(c *Config) { c.Depth = 152 }, "model.depth"},
		{func(c *Config) { c.NumClasses = 0 }, "model.num_classes"},
		{func(c *Config) { c.WidthMultiplier = 0 }, "model.width_multiplier"},
		{func(c *Config) { c.CSCAFusion = "serial" }, "model.csca_fusion"},
		{func(c *Config) { c.GateForm = "bam" }, "model.gate_form"},
		{func(c *Config) { c.Reduction = 0 }, "model.reduction"},
		{func(c *Config) { c.AttentionStages = []int{0} }, "model.attention_stages"},
		{func(c *Config) { c.AttentionStages = []int{2, 2} }, "model.attention_stages"},
		{func(c *Config) { c.Dropout = 1 }, "model.dropout"},
		{func(c *Config) { c.Dropout = -0.1 }, "model.dropout"},
	} {
		c := DefaultConfig()
		tc.change(&c)
		err := c.Validate()
		if tc.key == "" && err != nil {
			t.Errorf("%+v: %v", c, err)
		}
		if tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)) {
			t.Errorf("%+v: error %v, want one naming %s", c, err, tc.key)
		}
	}
}

func TestHasGate(t *testing.T) {
	c := DefaultConfig()
	c.Attention, c.AttentionStages = "ca", []int{2, 4}
	for stage, want := range map[int]bool{1: false, 2: true, 3: false, 4: true} {
		if c.hasGate(stage) != want {
			t.Errorf("stages %v: hasGate(%d) = %v", c.AttentionStages, stage, !want)
		}
	}
	c.Attention = "fcn"
	if c.hasGate(2) {
		t.Error("fcn has gates")
	}
}

// The JSON form (metadata.json's "net") uses the model.* key names and keeps nil ("all stages") apart
// from empty ("no stage").
func TestConfigJSON(t *testing.T) {
	for _, stages := range [][]int{nil, {}, {3, 4}} {
		c := DefaultConfig()
		c.Attention, c.Depth, c.WidthMultiplier, c.AttentionStages = "csca", 18, 0.5, stages
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		want := []string{"attention", "attention_stages", "csca_fusion", "depth", "dropout", "gate_form", "gate_init_logit", "num_classes", "reduction", "width_multiplier"}
		if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, want) {
			t.Errorf("JSON keys %v, want %v", got, want)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("stages %#v: round trip %s gave %+v, want %+v", stages, b, back, c)
		}
	}
}
