package exported_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/nets"
)

// BenchmarkInfer times Model.Predict at batch 1 (latency) and 16 (throughput) on a CSCA ResNet-50 at
// 224×224 with 200 classes, and in the same run Python TensorFlow (tf.saved_model.load, the .venv) on
// the same SavedModel and images. Go's numbers are ns/op and images/s; Python's are reported as
// py-ms/op and py-images/s (median of FINEGRAIN_BENCH_PY_ITERS calls, default 10). Without the .venv
// the Python metrics are left out.
//
//	go test ./exported -run '^$' -bench Infer -benchtime 10x
func BenchmarkInfer(b *testing.B) {
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.NumClasses = "csca", 200
	const size = 224
	dir := filepath.Join(b.TempDir(), "model")
	spec := exported.Spec{Net: cfg, Preprocess: exported.Preprocess{ResizeSize: 256, ImageSize: size}}
	if err := exported.Export(context.Background(), dir, spec, nil); err != nil {
		b.Fatal(err)
	}
	batches := []int{1, 16}
	rng := rand.New(rand.NewPCG(1, 2))
	images := map[int]exported.Images{}
	var pyArgs []string
	for _, n := range batches {
		im := exported.Images{N: n, Height: size, Width: size, Pix: make([]float32, n*size*size*3)}
		for i := range im.Pix {
			im.Pix[i] = 255 * rng.Float32()
		}
		images[n] = im
		raw := filepath.Join(b.TempDir(), fmt.Sprintf("batch%d.f32", n))
		writeRaw(b, raw, randomImagesFrom(im))
		pyArgs = append(pyArgs, "--images", raw, strconv.Itoa(n), strconv.Itoa(size), strconv.Itoa(size))
	}
	py := pythonTimings(b, dir, pyArgs)

	m, err := exported.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, n := range batches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			for range 2 { // warm-up: the first runs allocate and pick kernels
				if _, err := m.Predict(ctx, images[n]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if _, err := m.Predict(ctx, images[n]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			if t, ok := py[n]; ok {
				b.ReportMetric(1000*t, "py-ms/op")
				b.ReportMetric(float64(n)/t, "py-images/s")
			}
		})
	}
}

// pythonTimings runs the Python half of BenchmarkInfer: the median seconds per call by batch size.
func pythonTimings(b *testing.B, dir string, imageArgs []string) map[int]float64 {
	b.Helper()
	if root, err := pyref.RepoRoot(); err != nil || !fileExists(filepath.Join(root, ".venv", "bin", "python")) {
		b.Log("no .venv: Python TensorFlow timings left out")
		return nil
	}
	iters := os.Getenv("FINEGRAIN_BENCH_PY_ITERS")
	if iters == "" {
		iters = "10"
	}
	args := append(append([]string{"bench", dir}, imageArgs...), "--iters", iters)
	var res []struct {
		Batch  int     `json:"batch"`
		Median float64 `json:"median_seconds"`
	}
	if err := json.Unmarshal(pyref.Run(b, pyref.TensorFlow(b), pyScript(b), args...), &res); err != nil {
		b.Fatal(err)
	}
	out := map[int]float64{}
	for _, r := range res {
		out[r.Batch] = r.Median
	}
	return out
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
