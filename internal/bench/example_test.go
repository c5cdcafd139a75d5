package bench_test

import (
	"fmt"

	"github.com/finegrain/finegrain/internal/bench"
)

// ExamplePlanFor shows what make bench-quick measures on a 2-CPU machine.
func ExamplePlanFor() {
	p, err := bench.PlanFor(bench.Quick, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("train ResNet-%d at %d px, batch %d, %d paired steps, settings %s\n",
		p.Train.Depth, p.Train.ImageSize, p.Train.Batch, p.Train.Steps, p.TrainPairs[0].Go)
	fmt.Printf("inference ResNet-%d at %d px, batches %v, pairs %v\n", p.Infer.Depth, p.Infer.ImageSize, p.Infer.Batches, p.InferPairs)
	// A ratio from paired rounds, and whether it is a tie.
	r := bench.PairedRatio([]float64{1.1, 0.95, 1.2}, []float64{1, 1, 1})
	fmt.Println(r)
	fmt.Printf("pipeline %d images at %d px, variants %v within %v\n", p.Pipeline.Images, p.Pipeline.ImageSize, p.Variants, p.Budget)
	// Output:
	// train ResNet-50 at 112 px, batch 8, 3 paired steps, settings intra=2 inter=2
	// inference ResNet-18 at 112 px, batches [1 16], pairs [Go original / Python original Go optimised / Python original Go optimised / Python optimised]
	// 1.10 (0.95–1.20, 3 pairs, tie)
	// pipeline 640 images at 112 px, variants [csca ca sa fcn] within 4m30s
}
