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
}

// Net is the network configuration of the model the spec exports.
func (s InferSpec) Net() nets.Config {
	n := nets.DefaultConfig()
	n.Attention, n.Depth, n.NumClasses = s.Attention, s.Depth, s.Classes
	return n
}

// ExportModel writes the spec's model with its initial (random) weights as a SavedModel to spec.Dir
// through exported.Export: the serving graph and weights do not depend on training for timing.
func ExportModel(ctx context.Context, spec InferSpec) error {
	if err := os.MkdirAll(filepath.Dir(spec.Dir), 0o755); err != nil {
		return fmt.Errorf("inference benchmark: %w", err)
	}
	pre := exported.Preprocess{ImageSize: spec.ImageSize, ResizeSize: spec.ImageSize * 8 / 7}
	if err := exported.Export(ctx, spec.Dir, exported.Spec{Net: spec.Net(), Preprocess: pre}, nil); err != nil {
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
// PredictTensor for each batch size on fixed random images.
func InferGo(ctx context.Context, spec InferSpec) (*InferResult, error) {
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
	for _, n := range spec.Batches {
		images := exported.Images{N: n, Height: size, Width: size, Pix: make([]float32, n*size*size*3)}
		for i := range images.Pix {
			images.Pix[i] = 255 * rng.Float32()
		}
		t, err := tf.NewTensor(images.Pix)
		if err != nil {
			return nil, err
		}
		if err := t.Reshape([]int64{int64(n), int64(size), int64(size), 3}); err != nil {
			return nil, err
		}
		b := InferBatch{Batch: n}
		predict := func() error { _, err := m.Predict(ctx, images); return err }
		tensor := func() error { _, err := m.PredictTensor(ctx, t); return err }
		// Alternate the two forms so that both see the same load on a shared machine.
		var warm Timing
		for i := -2; i < spec.Iters; i++ {
			for _, c := range []struct {
				run func() error
				to  *Timing
			}{{predict, &b.Predict}, {tensor, &b.Tensor}} {
				to := c.to
				if i < 0 {
					to = &warm
				}
				if err := to.Time(c.run); err != nil {
					return nil, fmt.Errorf("inference benchmark: batch %d: %w", n, err)
				}
			}
		}
		b.MedianMS = 1000 * b.Predict.Median()
		b.ImagesPerSec = b.Predict.Rate(float64(n))
		res.Batches = append(res.Batches, b)
	}
	return res, nil
}
