package train

import (
	"bytes"
	"context"
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/pipeline"
)

// Batches is an iterator over the batches of one pass; Next returns io.EOF after the last. A batch
// may be released (pipeline.Batch.Release) once its values are in a tensor.
type Batches interface {
	Next() (*pipeline.Batch, error)
	Close() error
}

// Loader turns records into batches of square images of one size.
type Loader interface {
	// Train is the pass of training epoch (1-based) over records: shuffled and augmented as a function
	// of the run's seed and the epoch alone, full batches only, starting after the first skip batches
	// (a resumed epoch sees the same batches it would have seen).
	Train(ctx context.Context, records []pipeline.Record, epoch, skip int) (Batches, error)
	// Eval is an in-order pass over records, resized and centre-cropped; the last batch may be smaller.
	Eval(ctx context.Context, records []pipeline.Record) (Batches, error)
}

// Data is what a run learns from: the class names, three splits and the loader.
type Data struct {
	Classes []string
	Train   []pipeline.Record
	Val     []pipeline.Record // carved from the official training split; empty without data.val_fraction
	Test    []pipeline.Record // the official test split
	Loader  Loader
	Source  string // for messages: format and root
}

// Split returns the records of split train, val or test.
func (d *Data) Split(name string) ([]pipeline.Record, error) {
	switch name {
	case "train":
		return d.Train, nil
	case "val":
		return d.Val, nil
	case "test":
		return d.Test, nil
	}
	return nil, fmt.Errorf("split %q: want train, val or test", name)
}

// imageTensor wraps a batch's pixels as a float32 [n, size, size, 3] tensor with one copy.
func imageTensor(b *pipeline.Batch, size int) (*tf.Tensor, error) {
	n := b.Len()
	if b.Shape != [4]int{n, size, size, 3} || len(b.Images) != n*size*size*3 || len(b.Labels) != n {
		return nil, fmt.Errorf("batch of shape %v with %d values and %d labels, want [%d %d %d 3]", b.Shape, len(b.Images), len(b.Labels), n, size, size)
	}
	t, err := tf.ReadTensor(tf.Float, []int64{int64(n), int64(size), int64(size), 3}, bytes.NewReader(b.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("image tensor: %w", err)
	}
	return t, nil
}
