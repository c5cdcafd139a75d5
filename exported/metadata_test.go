package exported_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

// metadata.json as Export wrote it before Metadata kept the net once: the variant, depth and class
// count both at the top level and in "net".
const oldMetadata = `{
  "variant": "csca",
  "depth": 18,
  "dataset": "synthetic",
  "num_classes": 4,
  "image_size": 32,
  "resize_size": 40,
  "net": {"attention": "csca", "depth": 18, "num_classes": 4, "width_multiplier": 0.25, "csca_fusion": "sequential",
    "gate_form": "residual", "reduction": 16, "attention_stages": [3, 4], "dropout": 0, "gate_init_logit": 6},
  "metrics": {"test_top1": 0.5},
  "tensorflow_version": "2.18.0"
}`

func TestMetadataJSON(t *testing.T) {
	net := nets.DefaultConfig()
	net.Attention, net.Depth, net.NumClasses, net.WidthMultiplier = nets.AttentionCSCA, 18, 4, 0.25
	net.CSCAFusion, net.GateForm, net.AttentionStages = nets.FusionSequential, nets.GateResidual, []int{3, 4}
	want := exported.Metadata{Dataset: "synthetic", ImageSize: 32, ResizeSize: 40, Net: net,
		Metrics: map[string]float64{"test_top1": 0.5}, TensorFlow: "2.18.0"}
	edit := func(old, new string) string { return strings.Replace(oldMetadata, old, new, 1) }
	for _, tc := range []struct {
		name, text string
		want       func() exported.Metadata
		wantErr    string
	}{
		{"written before", oldMetadata, func() exported.Metadata { return want }, ""},
		{"only net", edit(`"variant": "csca",`, ""), func() exported.Metadata { return want }, ""},
		{"no net", edit(`"net": {`, `"old_net": {`), func() exported.Metadata {
			return exported.Metadata{Dataset: "synthetic", ImageSize: 32, ResizeSize: 40,
				Net: nets.Config{Attention: nets.AttentionCSCA, Depth: 18, NumClasses: 4}, Metrics: want.Metrics, TensorFlow: "2.18.0"}
		}, ""},
		{"variant disagrees", edit(`"variant": "csca"`, `"variant": "ca"`), nil, `variant "ca" disagrees with net.attention "csca"`},
		{"depth disagrees", edit(`"depth": 18,`, `"depth": 50,`), nil, "depth 50 disagrees with net.depth 18"},
		{"classes disagree", edit(`"num_classes": 4,`, `"num_classes": 5,`), nil, "num_classes 5 disagrees with net.num_classes 4"},
		{"net not an object", edit(`"metrics"`, `"net": 3, "metrics"`), nil, "net: json: cannot unmarshal number"},
	} {
		var got exported.Metadata
		err := json.Unmarshal([]byte(tc.text), &got)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want()) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want())
		}
	}

	// What Export writes keeps the top-level fields that cmd/serve's page and scripts read, and reads back.
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if top["variant"] != "csca" || top["depth"] != 18.0 || top["num_classes"] != 4.0 || top["net"].(map[string]any)["gate_form"] != "residual" {
		t.Errorf("metadata.json %s lacks the top-level variant, depth and num_classes or the net", b)
	}
	var back exported.Metadata
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("round trip of %s: %+v, %v", b, back, err)
	}
}
