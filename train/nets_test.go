package train

import (
	"path/filepath"
	"testing"

	"github.com/finegrain/finegrain/nets"
)

// TestNetsModelsLearn trains the real models (nets.Build) without attention and with the spatial and fused gates, at a tiny size, on
// the in-memory colour task: each must beat chance clearly, which catches a broken gradient or update
// path between the model and the optimiser.
func TestNetsModelsLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three small ResNets")
	}
	for _, variant := range []nets.Attention{nets.AttentionNone, nets.AttentionSA, nets.AttentionCSCA} {
		t.Run(string(variant), func(t *testing.T) {
			cfg := tinyConfig(t.TempDir())
			cfg.Model.Attention = variant
			cfg.Model.WidthMultiplier = 0.25
			cfg.Model.Dropout = 0
			cfg.Train.Epochs = 8
			cfg.Train.LR = 0.05
			var s *Summary
			var err error
			s, err = runNets(t, cfg, filepath.Join(t.TempDir(), "run"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: test top-1 %.3f", variant, s.TestTop1)
			if s.TestTop1 < 0.5 {
				t.Errorf("%s-ResNet18 ×0.25: test top-1 %.3f, want > 0.5 (chance 0.25)", variant, s.TestTop1)
			}
		})
	}
}
