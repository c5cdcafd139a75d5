package bench

import (
	"context"
	"runtime"
	"testing"
)

// The benchmarks run this package's measurements at make bench-quick's sizes, one measurement per
// benchmark call with b.N timed runs, and report the median run as ns/op besides the rates. They
// run only with -bench: go test -run '^$' -bench . ./internal/bench. Inference and the input
// pipeline have their benchmarks beside their code (exported.BenchmarkInfer,
// pipeline.BenchmarkTrainPipeline).

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
