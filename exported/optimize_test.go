package exported_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

// relDiff is max |a-b| over max |a|: the error relative to the output's scale.
func relDiff(a, b []float32) float64 {
	scale := 0.0
	for _, x := range a {
		scale = math.Max(scale, math.Abs(float64(x)))
	}
	if scale == 0 {
		scale = 1
	}
	return maxAbsDiff(a, b) / scale
}

// opCounts counts the node types of the graph in dir's saved_model.pb.
func opCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	var sm pb.SavedModel
	if err := proto.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, node := range sm.MetaGraphs[0].GraphDef.Node {
		n[node.Op]++
	}
	return n
}

// TestExportOptimized exports the same weights plain and with Optimize and checks that the optimised
// model has no variables and no batch norm left, and that Go (both signatures, the CAM included)
// and Python get the plain model's outputs from it within 1e-5 relative.
func TestExportOptimized(t *testing.T) {
	tests := []struct {
		name string
		net  func() nets.Config
	}{
		{"none", func() nets.Config { c := tinyNet(5); c.Attention = "none"; return c }},
		{"csca", func() nets.Config { return tinyNet(5) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := exported.Spec{Net: tc.net(), Preprocess: exported.Preprocess{ResizeSize: 40, ImageSize: 32}}
			root := t.TempDir()
			plain, opt := filepath.Join(root, "plain"), filepath.Join(root, "optimized")
			ctx := context.Background()
			if err := exported.Export(ctx, plain, spec, noisyWeights(3)); err != nil {
				t.Fatal(err)
			}
			spec.Optimize = true
			if err := exported.Export(ctx, opt, spec, noisyWeights(3)); err != nil {
				t.Fatal(err)
			}
			ops := opCounts(t, opt)
			for _, gone := range []string{"VarHandleOp", "ReadVariableOp", "FusedBatchNormV3", "SaveV2", "RestoreV2"} {
				if ops[gone] > 0 {
					t.Errorf("the optimised graph still has %d %s", ops[gone], gone)
				}
			}
			if want := opCounts(t, plain)["Conv2D"]; ops["Conv2D"] != want || ops["BiasAdd"] < want {
				t.Errorf("optimised graph: %d Conv2D and %d BiasAdd, want %d and at least as many BiasAdd", ops["Conv2D"], ops["BiasAdd"], want)
			}
			if _, err := os.Stat(filepath.Join(opt, "variables")); !os.IsNotExist(err) {
				t.Errorf("the optimised model has a variables directory (stat: %v)", err)
			}

			mp, err := exported.Load(plain)
			if err != nil {
				t.Fatal(err)
			}
			defer mp.Close()
			mo, err := exported.Load(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer mo.Close()
			if got, want := mo.Labels(), mp.Labels(); len(got) != len(want) {
				t.Errorf("labels %v, want %v", got, want)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			images := exported.Images{N: 3, Height: 32, Width: 32, Pix: flat32(randomImages(rng, 3, 32, 32))}
			want, err := mp.Predict(ctx, images, exported.WithCAM())
			if err != nil {
				t.Fatal(err)
			}
			got, err := mo.Predict(ctx, images, exported.WithCAM())
			if err != nil {
				t.Fatal(err)
			}
			encoded := [][]byte{encode(t, testImage(rng, 48, 40), "png"), encode(t, testImage(rng, 64, 48), "jpeg")}
			wantJPEG, err := mp.PredictEncoded(ctx, encoded)
			if err != nil {
				t.Fatal(err)
			}
			gotJPEG, err := mo.PredictEncoded(ctx, encoded)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want any
			}{
				{"serving_default logits", got.Logits, want.Logits},
				{"serving_default probabilities", got.Probabilities, want.Probabilities},
				{"serving_default cam", got.CAM, want.CAM},
				{"predict_jpeg logits", gotJPEG.Logits, wantJPEG.Logits},
			} {
				g, w := flat32(c.got), flat32(c.want)
				if len(w) == 0 {
					t.Fatalf("%s: no values", c.name)
				}
				d := relDiff(w, g)
				t.Logf("%s: optimised vs plain, max |diff| / max |plain| = %.3g", c.name, d)
				if d > 1e-5 {
					t.Errorf("%s: optimised model differs from the plain one by %.3g relative (want <= 1e-5)", c.name, d)
				}
			}
			if testing.Short() {
				return
			}
			raw := filepath.Join(root, "images.f32")
			writeRaw(t, raw, randomImagesFrom(images))
			py := pyRun(t, "run", opt, "--images", raw, "3", "32", "32")[exported.ServingDefault]
			for name, w := range map[string][][]float32{"logits": want.Logits, "probabilities": want.Probabilities} {
				d := relDiff(flat32(w), toFloat32(py[name].Values))
				t.Logf("Python on the optimised model, %s: %.3g relative to Go on the plain one", name, d)
				if d > 1e-5 {
					t.Errorf("Python %s on the optimised model differs by %.3g relative (want <= 1e-5)", name, d)
				}
			}
		})
	}
}
