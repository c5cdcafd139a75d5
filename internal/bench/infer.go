package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

// InferSpec is an inference measurement on an exported SavedModel.
type InferSpec struct {
	Dir       string   `json:"dir"` // the SavedModel (ExportModel writes it)
	Attention string   `json:"attention"`
	Depth     int      `json:"depth"`
	ImageSize int      `json:"image_size"`
	Classes   int      `json:"classes"`
	Batches   []int    `json:"batches"` // batch sizes to time, e.g. 1 and 16
	Iters     int      `json:"iters"`   // timed calls per batch size, after two warm-up calls
	Settings  Settings `json:"settings"`
	Optimized bool     `json:"optimized"` // the export is inference-optimised (exported.Spec.Optimize)
}

// Net is the network configuration of the model the spec exports.
func (s InferSpec) Net() nets.Config {
	n := nets.DefaultConfig()
	n.Attention = nets.Attention(s.Attention)
	n.Depth, n.NumClasses = s.Depth, s.Classes
	return n
}

// ExportModel writes the spec's model with its initial weights as a SavedModel to spec.Dir through
// exported.Export, optimised when spec.Optimized: the serving graph's cost does not depend on
// training.
func ExportModel(ctx context.Context, spec InferSpec) error {
	if err := os.MkdirAll(filepath.Dir(spec.Dir), 0o755); err != nil {
		return fmt.Errorf("inference benchmark: %w", err)
	}
	pre := exported.Preprocess{ImageSize: spec.ImageSize, ResizeSize: spec.ImageSize * 8 / 7}
	if err := exported.Export(ctx, spec.Dir, exported.Spec{Net: spec.Net(), Preprocess: pre, Optimize: spec.Optimized}, nil); err != nil {
		return fmt.Errorf("inference benchmark: %w", err)
	}
	return nil
}

// InferBatch is the timing of one batch size.
type InferBatch struct {
	Batch int `json:"batch"`
	// Predict is Model.Predict on []float32 images (the tensor copy and the output conversion
	// included); Tensor is Model.PredictTensor on a tensor made once, the host copy of the input left
	// out.
	Predict      Timing  `json:"predict"`
	Tensor       Timing  `json:"predict_tensor"`
	MedianMS     float64 `json:"median_ms"`    // Predict
	ImagesPerSec float64 `json:"images_per_s"` // Predict
}

// InferResult is what an InferSpec measured.
type InferResult struct {
	Spec        InferSpec    `json:"spec"`
	LoadSeconds float64      `json:"load_seconds"`
	Batches     []InferBatch `json:"batches"`
}

// InferGo loads the SavedModel with exported.Load under the spec's settings and times Predict and
// PredictTensor for each batch size on fixed random images: two untimed rounds, then spec.Iters timed
// rounds of one call of each form for each batch size (the forms alternating, so that all see the
// same load). With turns, each timed round waits for its turn (lockstep with the Python peer).
func InferGo(ctx context.Context, spec InferSpec, turns Turns) (*InferResult, error) {
	if spec.Iters < 1 || len(spec.Batches) == 0 {
		return nil, fmt.Errorf("inference benchmark: iters %d and batches %v must not be empty", spec.Iters, spec.Batches)
	}
	start := time.Now()
	m, err := exported.Load(spec.Dir, exported.WithSessionConfig(spec.Settings.Session()))
	if err != nil {
		return nil, fmt.Errorf("inference benchmark: %w", err)
	}
	defer m.Close()
	res := &InferResult{Spec: spec, LoadSeconds: time.Since(start).Seconds()}
	size := m.InputSize()
	rng := rand.New(rand.NewPCG(2, uint64(size)))
	type form struct {
		run func() error
		to  *Timing
	}
	var forms []form
	res.Batches = make([]InferBatch, len(spec.Batches))
	for i, n := range spec.Batches {
		images := exported.Images{N: n, Height: size, Width: size, Pix: make([]float32, n*size*size*3)}
		for j := range images.Pix {
			images.Pix[j] = 255 * rng.Float32()
		}
		t, err := tf.NewTensor(images.Pix)
		if err != nil {
			return nil, err
		}
		if err := t.Reshape([]int64{int64(n), int64(size), int64(size), 3}); err != nil {
			return nil, err
		}
		b := &res.Batches[i]
		b.Batch = n
		wrap := func(err error) error {
			if err != nil {
				return fmt.Errorf("inference benchmark: batch %d: %w", n, err)
			}
			return nil
		}
		forms = append(forms,
			form{func() error { _, err := m.Predict(ctx, images); return wrap(err) }, &b.Predict},
			form{func() error { _, err := m.PredictTensor(ctx, t); return wrap(err) }, &b.Tensor})
	}
	var warm Timing
	for range 2 {
		for _, f := range forms {
			if err := warm.Time(f.run); err != nil {
				return nil, err
			}
		}
	}
	for range spec.Iters {
		err := round(turns, func() error {
			for _, f := range forms {
				if err := f.to.Time(f.run); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range res.Batches {
		b := &res.Batches[i]
		b.MedianMS = 1000 * b.Predict.Median()
		b.ImagesPerSec = b.Predict.Rate(float64(b.Batch))
	}
	return res, nil
}
