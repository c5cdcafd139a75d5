package train

import (
	"errors"
	"fmt"
	"slices"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

// BuildFunc adds a model under a head scope; nets.Build is the one the commands use.
type BuildFunc func(s *ops.Scope, images tf.Output, cfg nets.Config) (nets.Outputs, error)

// Graph is the training graph: one set of variables read by a training head (loss, gradients,
// optimiser update) and an inference head (logits and class activation maps for evaluation). It is
// built in two phases, BuildGraph then AddOptimizer, because the optimiser's parameter groups come from
// the weight import, which needs a session on the model's variables.
type Graph struct {
	G          *ops.Graph
	Net        nets.Config
	ImageSize  int
	Images     tf.Output // float32 [N, S, S, 3] RGB 0..255, fed by both heads
	Labels     tf.Output // int32 [N]
	Loss       tf.Output // training head: mean cross-entropy (label smoothing included)
	Correct    tf.Output // training head: number of top-1 hits in the batch (int32)
	GradNorm   tf.Output // global gradient norm before clipping
	Logits     tf.Output // inference head [N, K]
	CAM        tf.Output // inference head [N, h, w, K]
	StepSeed   tf.Output // int64 [2] seed of the training head's random layers; nil when it has none
	Updates    []*tf.Operation
	Opt        *Optimizer // after AddOptimizer
	Saver      *ops.Saver // after AddOptimizer
	train      *ops.Scope
	grads      []tf.Output
	trainables []*ops.Variable
	lossScale  tf.Output // placeholder, mixed precision only
}

// BuildGraph builds the model heads, the loss and its gradients for a model with numClasses outputs.
func BuildGraph(cfg *Config, numClasses int, build BuildFunc) (*Graph, error) {
	return buildGraph(cfg, numClasses, build, true)
}

// BuildInferenceGraph builds the inference head alone with its saver, for evaluating a checkpoint
// (RestoreV2 reads the model's variables and ignores the optimiser's).
func BuildInferenceGraph(cfg *Config, numClasses int, build BuildFunc) (*Graph, error) {
	return buildGraph(cfg, numClasses, build, false)
}

func buildGraph(cfg *Config, numClasses int, build BuildFunc, training bool) (*Graph, error) {
	if build == nil {
		build = nets.Build
	}
	net := cfg.NetConfig(numClasses)
	if err := net.Validate(); err != nil {
		return nil, err
	}
	g := ops.NewGraph(cfg.Train.Seed)
	tg := &Graph{G: g, Net: net, ImageSize: cfg.Data.ImageSize}
	err := ops.Catch("training graph", g, func() error {
		root := g.Root()
		size := int64(cfg.Data.ImageSize)
		tg.Images = op.Placeholder(root.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, size, size, 3)))
		tg.Labels = op.Placeholder(root.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))

		inference := func() error {
			eout, err := build(g.Head("eval", false), tg.Images, net)
			if err != nil {
				return fmt.Errorf("inference head: %w", err)
			}
			tg.Logits, tg.CAM = eout.Logits, eout.CAM
			tg.trainables = g.Trainable()
			return nil
		}
		if !training {
			if err := inference(); err != nil {
				return err
			}
			tg.Saver = g.Saver()
			return nil
		}
		s := g.Head("train", true)
		out, err := build(s, tg.Images, net)
		if err != nil {
			return fmt.Errorf("training head: %w", err)
		}
		tg.train = s
		tg.Loss = ops.SoftmaxCrossEntropy(s.Sub("loss"), out.Logits, tg.Labels, numClasses, cfg.Train.LabelSmoothing)
		pred := op.ArgMax(s.Op(), out.Logits, op.Const(s.Op(), int32(1)), op.ArgMaxOutputType(tf.Int32))
		hits := op.Cast(s.Op(), op.Equal(s.Op(), pred, tg.Labels), tf.Int32)
		tg.Correct = op.Sum(s.Op(), hits, op.Const(s.Op(), []int32{0}))
		tg.Updates = s.Updates()

		if err := inference(); err != nil {
			return err
		}
		if len(tg.trainables) == 0 {
			return errors.New("the model has no trainable variables")
		}
		values := make([]tf.Output, len(tg.trainables))
		for i, v := range tg.trainables {
			values[i] = v.Value
		}
		objective := tg.Loss
		if cfg.Train.MixedPrecision {
			tg.lossScale = op.PlaceholderWithDefault(root.SubScope("loss_scale"), op.Const(root.SubScope("loss_scale_default"), float32(1)), tf.ScalarShape())
			objective = op.Mul(root.SubScope("scaled_loss"), tg.Loss, tg.lossScale)
		}
		grads := op.Gradients(root.SubScope("gradients"), []tf.Output{objective}, values)
		for i, gr := range grads {
			if gr.Op == nil {
				return fmt.Errorf("variable %s gets no gradient from the loss", tg.trainables[i].Name)
			}
		}
		if cfg.Train.MixedPrecision {
			gs := root.SubScope("unscale")
			inv := op.Reciprocal(gs.SubScope("inv"), tg.lossScale)
			for i := range grads {
				grads[i] = op.Mul(gs.SubScope("grad"), grads[i], inv)
			}
		}
		tg.grads = grads
		if s.HasStepSeed() {
			tg.StepSeed = s.StepSeed()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tg, nil
}

// TrainableNames lists the trainable variables in creation order.
func (tg *Graph) TrainableNames() []string {
	names := make([]string, len(tg.trainables))
	for i, v := range tg.trainables {
		names[i] = v.Name
	}
	return names
}

// AddOptimizer adds the optimiser's slots and update op (backbone lists the variables that take the
// backbone learning rate) and then the saver, which covers every variable created so far.
func (tg *Graph) AddOptimizer(cfg TrainConfig, backbone []string) error {
	if tg.Opt != nil {
		return errors.New("optimizer added twice")
	}
	for _, name := range backbone {
		if tg.G.Lookup(name) == nil {
			return fmt.Errorf("backbone variable %s is not in the graph", name)
		}
	}
	return ops.Catch("optimizer", tg.G, func() error {
		inBackbone := func(name string) bool { return slices.Contains(backbone, name) }
		opt, err := newOptimizer(tg.G, cfg, tg.trainables, tg.grads, inBackbone, tg.lossScale, tg.Updates)
		if err != nil {
			return err
		}
		tg.Opt = opt
		tg.GradNorm = opt.GradNorm
		tg.Saver = tg.G.Saver()
		return nil
	})
}
