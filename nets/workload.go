package nets

import (
	"fmt"
	"math/rand/v2"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// Workload is a model with a fixed random batch, ready to run inference or forward+backward passes:
// what the benchmarks and cmd/variants time.
type Workload struct {
	g        *ops.Graph
	sess     *tf.Session
	feeds    map[tf.Output]*tf.Tensor
	logits   tf.Output       // inference head
	backward tf.Output       // training head: Σ of every gradient's sum, so every gradient is computed
	updates  []*tf.Operation // the training head's BN updates
}

// NewWorkload builds cfg with an inference head and a training head (softmax cross-entropy, gradients of
// every trainable variable, no optimiser) for batch random images of size×size, and initialises it.
func NewWorkload(cfg Config, batch, size int, sc ops.SessionConfig) (*Workload, error) {
	if batch < 1 || size < 1 {
		return nil, fmt.Errorf("workload: batch %d, size %d", batch, size)
	}
	w := &Workload{g: ops.NewGraph(1)}
	var images, labels tf.Output
	err := ops.Catch("workload", w.g, func() error {
		root := w.g.Root()
		images = op.Placeholder(root.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(int64(batch), int64(size), int64(size), 3)))
		labels = op.Placeholder(root.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(int64(batch))))
		eval, err := Build(w.g.Head("eval", false), images, cfg)
		if err != nil {
			return err
		}
		w.logits = eval.Logits
		th := w.g.Head("train", true)
		train, err := Build(th, images, cfg)
		if err != nil {
			return err
		}
		loss := ops.SoftmaxCrossEntropy(th, train.Logits, labels, cfg.NumClasses, 0)
		vars := w.g.Trainable()
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		// A NoOp with control dependencies on the gradients would not do: TensorFlow prunes stateless
		// ops whose outputs nobody reads. A scalar that reads every gradient costs one pass over them.
		var sums []tf.Output
		for _, g := range op.Gradients(root.SubScope("gradients"), []tf.Output{loss}, values) {
			s := root.SubScope("backward")
			sums = append(sums, op.Sum(s, g, op.Range(s, op.Const(s.SubScope("zero"), int32(0)), op.Rank(s, g), op.Const(s.SubScope("one"), int32(1)))))
		}
		w.backward = op.AddN(root.SubScope("backward"), sums)
		w.updates = th.Updates()
		return nil
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(batch), uint64(size)))
	pixels := make([]float32, batch*size*size*3)
	for i := range pixels {
		pixels[i] = float32(rng.IntN(256))
	}
	classes := make([]int32, batch)
	for i := range classes {
		classes[i] = int32(rng.IntN(cfg.NumClasses))
	}
	x, err := tf.NewTensor(pixels)
	if err != nil {
		return nil, err
	}
	if err := x.Reshape([]int64{int64(batch), int64(size), int64(size), 3}); err != nil {
		return nil, err
	}
	y, err := tf.NewTensor(classes)
	if err != nil {
		return nil, err
	}
	w.feeds = map[tf.Output]*tf.Tensor{images: x, labels: y}
	if w.sess, err = sc.NewSession(w.g.TF()); err != nil {
		return nil, err
	}
	if _, err := w.sess.Run(nil, nil, []*tf.Operation{w.g.InitOp()}); err != nil {
		w.sess.Close()
		return nil, fmt.Errorf("workload: initialise: %w", err)
	}
	return w, nil
}

// Forward runs one inference pass over the batch.
func (w *Workload) Forward() error {
	if _, err := w.sess.Run(w.feeds, []tf.Output{w.logits}, nil); err != nil {
		return fmt.Errorf("workload forward: %w", err)
	}
	return nil
}

// ForwardBackward runs one training-mode forward pass and the backward pass to every trainable
// variable's gradient (read once by a sum), with the BN moving-average updates; no optimiser step.
func (w *Workload) ForwardBackward() error {
	if _, err := w.sess.Run(w.feeds, []tf.Output{w.backward}, w.updates); err != nil {
		return fmt.Errorf("workload forward+backward: %w", err)
	}
	return nil
}

// Close releases the session.
func (w *Workload) Close() error { return w.sess.Close() }
