package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// The benchmarks run the measurements of make bench-quick at its sizes, one measurement per
// benchmark call with b.N timed runs, and report the median run as ns/op besides the rates. They
// run only with -bench: go test -run '^$' -bench . ./internal/bench

func defaultSettings() Settings {
	return Settings{IntraOpThreads: runtime.NumCPU(), InterOpThreads: 2}
}

// BenchmarkTrainStep times the ResNet-50 training step at 112×112, batch 8, without and with the
// csca gates (ns/op is the median step; img/s and GFLOP/s follow from it).
func BenchmarkTrainStep(b *testing.B) {
	for _, attention := range []string{"none", "csca"} {
		b.Run(attention, func(b *testing.B) {
			spec := TrainSpec{Attention: attention, Depth: 50, ImageSize: 112, Batch: 8, Classes: 200, Warmup: 1, Steps: b.N,
				Settings: defaultSettings()}
			r, err := Train(context.Background(), spec)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(1e9*r.Step.Median(), "ns/op")
			b.ReportMetric(r.ImagesPerSec, "img/s")
			b.ReportMetric(r.GFLOPs, "GFLOP/s")
			b.ReportMetric(r.GFLOPsPerCPUSecond, "GFLOP/CPU-s")
		})
	}
}

// BenchmarkPeakMatMul times a 1024×1024 float32 MatMul through a TensorFlow session.
func BenchmarkPeakMatMul(b *testing.B) {
	r, err := Peak(context.Background(), PeakSpec{N: 1024, Runs: b.N, Settings: defaultSettings()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(1e9*r.Run.Median(), "ns/op")
	b.ReportMetric(r.MedianGFLOPs, "GFLOP/s")
	b.ReportMetric(r.GFLOPsPerCPUSecond, "GFLOP/CPU-s")
}

// BenchmarkPredict times Model.Predict on an exported ResNet-18 at 112×112 for batches of 1 and 16.
func BenchmarkPredict(b *testing.B) {
	spec := InferSpec{Dir: filepath.Join(b.TempDir(), "model"), Attention: "none", Depth: 18, ImageSize: 112, Classes: 200,
		Settings: defaultSettings()}
	if err := ExportModel(context.Background(), spec); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := spec
			s.Batches, s.Iters = []int{n}, b.N
			r, err := InferGo(context.Background(), s, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(1e9*r.Batches[0].Predict.Median(), "ns/op")
			b.ReportMetric(r.Batches[0].ImagesPerSec, "img/s")
		})
	}
}

// BenchmarkPipeline times the train pipeline at 112×112 over synthetic 400×400 JPEGs.
func BenchmarkPipeline(b *testing.B) {
	dir := b.TempDir()
	files, err := SynthFiles(context.Background(), filepath.Join(dir, "images"), 4, 8, 400)
	if err != nil {
		b.Fatal(err)
	}
	list := filepath.Join(dir, "files.txt")
	if err := WriteFileList(list, files); err != nil {
		b.Fatal(err)
	}
	spec := PipelineSpec{FileList: list, ImageSize: 112, ResizeSize: 128, Batch: 16, Workers: runtime.NumCPU(), Images: 16 * b.N}
	r, err := PipelineGo(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(1e9*r.Seconds/float64(r.Images)*16, "ns/op") // per batch of 16
	b.ReportMetric(r.ImagesPerSec, "img/s")
}
