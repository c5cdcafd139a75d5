package train

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRunShowsResize: the dry run's summary, as JSON and as text, says which resize the crop is
// taken from and whether it follows data.image_size.
func TestDryRunShowsResize(t *testing.T) {
	tests := []struct {
		resize    int // data.resize_size
		want      int
		follows   bool
		wantInput string
	}{
		{0, 36, true, "input       shorter side resized to 36 (8/7 of data.image_size, as data.resize_size is 0), then a 32×32 crop: 89% of the shorter side\n"},
		{64, 64, false, "input       shorter side resized to 64 (data.resize_size), then a 32×32 crop: 50% of the shorter side\n"},
	}
	for _, tc := range tests {
		cfg := tinyConfig(filepath.Join(t.TempDir(), "synth")) // not generated: the dry run plans it
		cfg.Data.Format, cfg.Data.ResizeSize = "synthetic", tc.resize
		cfg.Data.Synthetic.Classes, cfg.Data.Synthetic.PerClass = 3, 20
		p, err := DryRun(context.Background(), cfg, "tiny.yaml", "runs/tiny", tinyNet)
		if err != nil {
			t.Fatal(err)
		}
		if p.Model.ResizeSize != tc.want || p.Model.ResizeFollowsCrop != tc.follows {
			t.Errorf("resize_size %d: plan model %+v, want resize %d (follows the crop: %v)", tc.resize, p.Model, tc.want, tc.follows)
		}
		text, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var js struct {
			Model map[string]any `json:"model"`
		}
		if err := json.Unmarshal(text, &js); err != nil || js.Model["resize_size"] != float64(tc.want) || js.Model["resize_follows_crop"] != tc.follows {
			t.Errorf("JSON model %v (%v)", js.Model, err)
		}
		var b strings.Builder
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.wantInput) || !strings.Contains(b.String(), "32×32 input") {
			t.Errorf("text lacks %q:\n%s", tc.wantInput, b.String())
		}
	}
}
