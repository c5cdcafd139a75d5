package train

import "testing"

// TestResizeFollowsCrop: without data.resize_size the resize follows data.image_size (8/7 of it), so
// that -set data.image_size=224 alone evaluates a 224 crop of a 256 resize, not of a 512 one.
func TestResizeFollowsCrop(t *testing.T) {
	tests := []struct {
		sets []string
		want int
	}{
		{nil, 512}, // the default 448 crop
		{[]string{"data.image_size=224"}, 256},
		{[]string{"data.image_size=32"}, 36},
		{[]string{"data.image_size=224", "data.resize_size=300"}, 300},
		{[]string{"data.image_size=224", "data.resize_size=224"}, 224},
	}
	for _, tc := range tests {
		cfg, err := Load(LoadOptions{Sets: append([]string{"data.root=d"}, tc.sets...), Env: []string{}})
		if err != nil {
			t.Fatalf("%q: %v", tc.sets, err)
		}
		trainCfg, evalCfg := PipelineConfigs(cfg)
		if trainCfg.ResizeSize != tc.want || evalCfg.ResizeSize != tc.want || cfg.Data.ResolvedResize() != tc.want {
			t.Errorf("%q: resize %d (train) %d (eval) %d (resolved), want %d", tc.sets, trainCfg.ResizeSize, evalCfg.ResizeSize, cfg.Data.ResolvedResize(), tc.want)
		}
	}
}
