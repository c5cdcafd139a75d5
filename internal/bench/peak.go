package bench

import (
	"context"
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// PeakSpec is a matrix-multiply peak measurement: Runs products of two n×n float32 matrices.
type PeakSpec struct {
	N        int      `json:"n"`
	Runs     int      `json:"runs"`
	Settings Settings `json:"settings"`
}

// PeakResult is what a PeakSpec measured. GFLOPs is at the fastest run: the peak is what the machine
// can do, and slower runs measure the other processes sharing it.
type PeakResult struct {
	Spec         PeakSpec `json:"spec"`
	Run          Timing   `json:"run"`
	GFLOPs       float64  `json:"gflops"`        // 2n³ / best run
	MedianGFLOPs float64  `json:"median_gflops"` // 2n³ / median run
	// GFLOPsPerCPUSecond is 2n³ over the mean CPU time of a run: the rate of one busy CPU, nearly
	// independent of the machine's load; times the CPU count it is the unshared peak.
	GFLOPsPerCPUSecond float64 `json:"gflops_per_cpu_second"`
}

// Peak measures the float32 matrix-multiply rate of a TensorFlow session with the spec's settings.
// Both matrices are variables initialised once in the session, so a run is the MatMul alone (plus a
// sum of its n² outputs, fetched as a scalar so that nothing large crosses to Go).
func Peak(ctx context.Context, spec PeakSpec) (*PeakResult, error) {
	if spec.N < 1 || spec.Runs < 1 {
		return nil, fmt.Errorf("peak benchmark: n %d and runs %d must be positive", spec.N, spec.Runs)
	}
	g := ops.NewGraph(1)
	var sum tf.Output
	err := ops.Catch("peak benchmark", g, func() error {
		shape := []int64{int64(spec.N), int64(spec.N)}
		a := g.Variable("peak/a", shape, ops.Uniform(1), ops.NotTrainable())
		b := g.Variable("peak/b", shape, ops.Uniform(1), ops.NotTrainable())
		s := g.Root().SubScope("peak")
		prod := op.MatMul(s.SubScope("matmul"), a.Value, b.Value)
		sum = op.Sum(s.SubScope("sum"), prod, op.Const(s.SubScope("axes"), []int32{0, 1}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sess, err := spec.Settings.Session().NewSession(g.TF())
	if err != nil {
		return nil, fmt.Errorf("peak benchmark: %w", err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		return nil, fmt.Errorf("peak benchmark: initialise: %w", err)
	}
	res := &PeakResult{Spec: spec}
	matmul := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := sess.Run(nil, []tf.Output{sum}, nil); err != nil {
			return fmt.Errorf("peak benchmark: matmul: %w", err)
		}
		return nil
	}
	if err := matmul(); err != nil { // warm-up
		return nil, err
	}
	for range spec.Runs {
		if err := res.Run.Time(matmul); err != nil {
			return nil, err
		}
	}
	flop := MatMulFLOPs(spec.N) / 1e9
	res.GFLOPs = flop / res.Run.Best()
	res.MedianGFLOPs = flop / res.Run.Median()
	if c := res.Run.CPUPerRun(); c > 0 {
		res.GFLOPsPerCPUSecond = flop / c
	}
	return res, nil
}
