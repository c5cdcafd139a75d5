package train

import (
	"testing"

	"github.com/finegrain/finegrain/nets"
)

// What model.attention_stages builds, counted in parameters: the key left out is every stage (as
// [1, 2, 3, 4]), a subset is fewer gates, and nothing the configuration accepts builds gates the user
// did not ask for. The empty list, which once meant every stage here and means no stage in nets, is
// refused (TestConfigEmptyAttentionStagesRefused); NetConfig passes nets exactly what it is given.
func TestConfigAttentionStagesParams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds several ResNet-18 graphs")
	}
	params := func(t *testing.T, file string) int64 {
		t.Helper()
		cfg, err := loadWith(t, "model:\n  depth: 18\n  width_multiplier: 0.25\n"+file, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return stats(t, cfg.NetConfig(10))
	}
	omitted := params(t, "")
	all := params(t, "  attention_stages: [1, 2, 3, 4]\n")
	late := params(t, "  attention_stages: [3, 4]\n")
	last := params(t, "  attention_stages: [4]\n")
	none := params(t, "  attention: none\n")
	if omitted != all {
		t.Errorf("key left out: %d parameters, [1, 2, 3, 4]: %d; want equal", omitted, all)
	}
	if !(all > late && late > last && last > none) {
		t.Errorf("parameters: all stages %d, [3, 4] %d, [4] %d, none %d; want strictly decreasing", all, late, last, none)
	}
	// NetConfig keeps the empty list empty: built directly (bypassing validation) it has no gates, as
	// nets documents, instead of the four stages it once silently became.
	cfg := Default()
	cfg.Model.Depth, cfg.Model.WidthMultiplier = 18, 0.25
	cfg.Model.AttentionStages = []int{}
	if got := stats(t, cfg.NetConfig(10)); got != none {
		t.Errorf("NetConfig with an empty stage list: %d parameters, want %d (no gates)", got, none)
	}
}

func stats(t *testing.T, n nets.Config) int64 {
	t.Helper()
	p, _, err := nets.Stats(n, 32)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
