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
	fmt.Printf("train ResNet-%d at %d px, batch %d, %d timed steps, settings %s\n",
		p.Train.Depth, p.Train.ImageSize, p.Train.Batch, p.Train.Steps, p.Candidates[0])
	fmt.Printf("inference ResNet-%d at %d px, batches %v\n", p.Infer.Depth, p.Infer.ImageSize, p.Infer.Batches)
	fmt.Printf("pipeline %d images at %d px, variants %v within %v\n", p.Pipeline.Images, p.Pipeline.ImageSize, p.Variants, p.Budget)
	// Output:
	// train ResNet-50 at 112 px, batch 8, 3 timed steps, settings intra=2 inter=2
	// inference ResNet-18 at 112 px, batches [1 16]
	// pipeline 640 images at 112 px, variants [csca ca sa fcn] within 4m30s
}
