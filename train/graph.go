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
//
// The training head is one tower per device of Place (ops.Graph.BuildTowers), so that runtime.devices
// and cluster.workers train data-parallel; the variables, the optimiser and the inference head sit on
// the parameter device. With one unplaced tower the graph computes exactly what a single head did.
type Graph struct {
	G         *ops.Graph
	Net       nets.Config
	ImageSize int
	Images    tf.Output // float32 [N, S, S, 3] RGB 0..255, fed by both heads
	Labels    tf.Output // int32 [N]
	Loss      tf.Output // training head: mean cross-entropy (label smoothing included), over every tower
	Correct   tf.Output // training head: number of top-1 hits in the batch (int32), every tower's summed
	GradNorm  tf.Output // global gradient norm before clipping
	Logits    tf.Output // inference head [N, K]
	CAM       tf.Output // inference head [N, h, w, K]
	StepSeed  tf.Output // int64 [2] seed of the training head's random layers; nil when it has none
	Updates   []*tf.Operation
	Opt       *Optimizer // after AddOptimizer
	Saver     *ops.Saver // after AddOptimizer
	// Place is where the towers and the variables are; the inference graph has one unplaced tower.
	Place      Placement
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
	pl := Placement{Devices: []string{""}}
	if training {
		var err error
		if pl, err = PlacementOf(cfg); err != nil {
			return nil, err
		}
	}
	g := ops.NewGraph(cfg.Train.Seed)
	tg := &Graph{G: g, Net: net, ImageSize: cfg.Data.ImageSize, Place: pl}
	err := ops.Catch("training graph", g, func() error {
		return g.OnDevice(pl.Param, func() error { return tg.build(cfg, numClasses, build, training) })
	})
	if err != nil {
		return nil, err
	}
	return tg, nil
}

// build adds the heads to tg.G, whose root scope is on the parameter device.
func (tg *Graph) build(cfg *Config, numClasses int, build BuildFunc, training bool) error {
	g, net, pl := tg.G, tg.Net, tg.Place
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
	if cfg.Train.MixedPrecision {
		tg.lossScale = op.PlaceholderWithDefault(root.SubScope("loss_scale"), op.Const(root.SubScope("loss_scale_default"), float32(1)), tf.ScalarShape())
	}
	towers, err := g.BuildTowers("train", pl.Devices, pl.Param, []tf.Output{tg.Images, tg.Labels}, func(s *ops.Scope, in []tf.Output) (tf.Output, []tf.Output, error) {
		out, err := build(s, in[0], net)
		if err != nil {
			return tf.Output{}, nil, fmt.Errorf("training head: %w", err)
		}
		loss := ops.SoftmaxCrossEntropy(s.Sub("loss"), out.Logits, in[1], numClasses, cfg.Train.LabelSmoothing)
		pred := op.ArgMax(s.Op(), out.Logits, op.Const(s.Op(), int32(1)), op.ArgMaxOutputType(tf.Int32))
		hits := op.Cast(s.Op(), op.Equal(s.Op(), pred, in[1]), tf.Int32)
		correct := op.Sum(s.Op(), hits, op.Const(s.Op(), []int32{0}))
		objective := loss
		if cfg.Train.MixedPrecision {
			objective = op.Mul(s.Op().SubScope("scaled_loss"), loss, tg.lossScale)
		}
		return objective, []tf.Output{loss, correct}, nil
	})
	if err != nil {
		return err
	}
	tg.train = towers.Towers[0].Scope
	tg.Updates = towers.Updates
	tg.StepSeed = towers.StepSeed
	if len(towers.Towers) == 1 {
		tg.Loss, tg.Correct = towers.Towers[0].Outputs[0], towers.Towers[0].Outputs[1]
	} else {
		// The mean of equal slices' mean losses is the batch's mean loss.
		as := root.SubScope("train_loss")
		losses, hits := make([]tf.Output, len(towers.Towers)), make([]tf.Output, len(towers.Towers))
		for i, tw := range towers.Towers {
			losses[i], hits[i] = tw.Outputs[0], tw.Outputs[1]
		}
		tg.Loss = op.Div(as, op.AddN(as, losses), op.Const(as.SubScope("towers"), float32(len(towers.Towers))))
		tg.Correct = op.AddN(root.SubScope("train_correct"), hits)
	}
	if err := inference(); err != nil {
		return err
	}
	grads := append([]tf.Output(nil), towers.Grads...)
	if cfg.Train.MixedPrecision {
		gs := root.SubScope("unscale")
		inv := op.Reciprocal(gs.SubScope("inv"), tg.lossScale)
		for i := range grads {
			grads[i] = op.Mul(gs.SubScope("grad"), grads[i], inv)
		}
	}
	tg.grads = grads
	tg.trainables = towers.Vars
	return nil
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
		// The update runs beside the variables it writes, on the parameter device.
		return tg.G.OnDevice(tg.Place.Param, func() error {
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
	})
}
