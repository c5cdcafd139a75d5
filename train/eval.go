package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/pipeline"
)

// Evaluate runs the inference head over records and scores its logits.
func Evaluate(ctx context.Context, sess *tf.Session, tg *Graph, loader Loader, records []pipeline.Record) (*Evaluation, error) {
	return EvaluateWith(ctx, loader, records, tg.Net.NumClasses, func(b *pipeline.Batch) ([]float32, error) {
		out, err := runInference(sess, tg, b, tg.Logits)
		if err != nil {
			return nil, err
		}
		return flat32(out[0]), nil
	})
}

// EvaluateWith scores a classes-way classifier over records: predict returns the logits (row-major
// [n, classes]) of a batch. Images that the loader could not read are counted in Skipped.
func EvaluateWith(ctx context.Context, loader Loader, records []pipeline.Record, classes int, predict func(*pipeline.Batch) ([]float32, error)) (*Evaluation, error) {
	ev := NewEvaluation(classes)
	err := forEachBatch(ctx, loader, records, func(b *pipeline.Batch) error {
		logits, err := predict(b)
		if err != nil {
			return err
		}
		if len(logits) != b.Len()*classes {
			return fmt.Errorf("%d logits for %d images of %d classes", len(logits), b.Len(), classes)
		}
		for _, y := range b.Labels {
			if y < 0 || int(y) >= classes {
				return fmt.Errorf("label %d outside the model's %d classes", y, classes)
			}
		}
		ev.Add(logits, b.Labels)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ev.Skipped = int64(len(records)) - ev.Count
	return ev, nil
}

// EvaluateCheckpoint builds the inference graph of cfg, restores the checkpoint prefix and evaluates it
// on records of data.
func EvaluateCheckpoint(ctx context.Context, cfg *Config, prefix string, data *Data, records []pipeline.Record, build BuildFunc) (*Evaluation, error) {
	k, err := numClasses(cfg, data)
	if err != nil {
		return nil, err
	}
	if err := CheckArchitecture(filepath.Dir(prefix), cfg.NetConfig(k)); err != nil {
		return nil, err
	}
	tg, err := BuildInferenceGraph(cfg, k, build)
	if err != nil {
		return nil, err
	}
	sess, err := NewSession(cfg, tg.G.TF())
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := tg.Saver.RestoreFrom(sess, prefix); err != nil {
		return nil, err
	}
	return Evaluate(ctx, sess, tg, data.Loader, records)
}

// RunDirOf is the run directory holding a checkpoint directory (RUN/checkpoints/ckpt-N), or "".
func RunDirOf(ckptDir string) string {
	parent := filepath.Dir(ckptDir)
	if filepath.Base(parent) != checkpointsDir {
		return ""
	}
	return filepath.Dir(parent)
}

// forEachBatch calls fn with each batch of an evaluation pass over records, releasing it afterwards.
func forEachBatch(ctx context.Context, loader Loader, records []pipeline.Record, fn func(*pipeline.Batch) error) error {
	it, err := loader.Eval(ctx, records)
	if err != nil {
		return err
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return it.Close()
		}
		if err != nil {
			return err
		}
		err = fn(b)
		b.Release()
		if err != nil {
			return err
		}
	}
}

func runInference(sess *tf.Session, tg *Graph, b *pipeline.Batch, fetch ...tf.Output) ([]*tf.Tensor, error) {
	img, err := imageTensor(b, tg.ImageSize)
	if err != nil {
		return nil, err
	}
	out, err := sess.Run(map[tf.Output]*tf.Tensor{tg.Images: img}, fetch, nil)
	if err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	return out, nil
}

// flat32 returns a float32 tensor's values in row-major order.
func flat32(t *tf.Tensor) []float32 {
	n := int64(1)
	for _, d := range t.Shape() {
		n *= d
	}
	out := make([]float32, n)
	if n > 0 {
		if err := t.Reshape([]int64{n}); err == nil {
			copy(out, t.Value().([]float32))
		}
	}
	return out
}

// Overlay is one class-activation-map picture.
type Overlay struct {
	PNG       []byte
	Size      int
	Label     int // true class
	Predicted int
}

// CAMs draws the class activation map of the predicted class over each of records' images.
func CAMs(ctx context.Context, sess *tf.Session, tg *Graph, loader Loader, records []pipeline.Record) ([]Overlay, error) {
	if tg.CAM.Op == nil {
		return nil, nil
	}
	var out []Overlay
	size, k := tg.ImageSize, tg.Net.NumClasses
	err := forEachBatch(ctx, loader, records, func(b *pipeline.Batch) error {
		res, err := runInference(sess, tg, b, tg.Logits, tg.CAM)
		if err != nil {
			return err
		}
		shape := res[1].Shape()
		if len(shape) != 4 || shape[3] != int64(k) {
			return fmt.Errorf("CAM shape %v, want [N, h, w, %d]", shape, k)
		}
		logits, cams := flat32(res[0]), flat32(res[1])
		h, w := int(shape[1]), int(shape[2])
		per := size * size * 3
		for i := range b.Labels {
			pred := 0
			for j := 1; j < k; j++ {
				if logits[i*k+j] > logits[i*k+pred] {
					pred = j
				}
			}
			m := make([]float32, h*w)
			for p := range m {
				m[p] = cams[(i*h*w+p)*k+pred]
			}
			png, err := CAMOverlay(b.Images[i*per:(i+1)*per], size, m, h, w, 0.45)
			if err != nil {
				return err
			}
			out = append(out, Overlay{PNG: png, Size: size, Label: int(b.Labels[i]), Predicted: pred})
		}
		return nil
	})
	return out, err
}
