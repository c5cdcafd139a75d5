package train

import (
	"fmt"
	"math"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/ops"
)

// Optimizer is the update op of one training step and the feeds it needs. The learning rates are fed
// per step from the schedule (computed in Go), so the graph holds no schedule state; the optimiser
// slots (momentum buffers, Adam moments) are variables saved in every checkpoint.
//
//   - sgd: torch.optim.SGD semantics, buf = μ·buf + g; w -= lr·buf (Nesterov: w -= lr·(g + μ·buf)),
//     weight decay added to the gradient (L2), through ResourceApplyMomentum.
//   - adamw: decoupled weight decay w -= lr·λ·w, then ResourceApplyAdam with bias correction from
//     β1^t and β2^t fed per step (TensorFlow's form, ε added to √v rather than √v̂).
//
// Gradients are clipped to a global norm first when clip_grad_norm > 0. With mixed precision a step
// whose gradients are not finite leaves every variable and slot unchanged (learning rate 0, momentum
// and β 1, gradient 0), so the trainer can lower the loss scale and go on.
type Optimizer struct {
	Kind       string
	LR         tf.Output // float32 scalar: learning rate of the new layers
	BackboneLR tf.Output // float32 scalar: learning rate of the backbone group
	Beta1Power tf.Output // adamw: β1^t, t counting applied updates from 1
	Beta2Power tf.Output // adamw: β2^t
	Finite     tf.Output // mixed precision: bool, the gradients were finite and the update applied
	GradNorm   tf.Output // global norm of the (unscaled) gradients before clipping
	Step       *tf.Operation
	Slots      []*ops.Variable
	Backbone   int // number of variables in the backbone group
}

func newOptimizer(g *ops.Graph, cfg TrainConfig, vars []*ops.Variable, grads []tf.Output, inBackbone func(string) bool, lossScale tf.Output, updates []*tf.Operation) (*Optimizer, error) {
	root := g.Root().SubScope("optimizer")
	n := func() *op.Scope { return root.SubScope("op") }
	f32 := func(v float64) tf.Output { return op.Const(n(), float32(v)) }
	o := &Optimizer{Kind: cfg.Optimizer}
	o.LR = op.Placeholder(root.SubScope("lr"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))
	o.BackboneLR = op.Placeholder(root.SubScope("backbone_lr"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))

	// L2Loss is sum(g²)/2 in one kernel: Square then Sum would write a gradient-sized temporary per
	// variable, a full memory pass on every step whether or not anything clips.
	halves := make([]tf.Output, len(grads))
	for i, gr := range grads {
		halves[i] = op.L2Loss(n(), gr)
	}
	sumsq := op.Mul(n(), op.AddN(n(), halves), f32(2))
	o.GradNorm = op.Sqrt(n(), sumsq)
	grads = append([]tf.Output(nil), grads...)
	if cfg.ClipGradNorm > 0 {
		clip := f32(cfg.ClipGradNorm)
		factor := op.Div(n(), clip, op.Maximum(n(), o.GradNorm, clip))
		for i := range grads {
			grads[i] = op.Mul(n(), grads[i], factor)
		}
	}
	lr, blr := o.LR, o.BackboneLR
	momentum, beta1, beta2 := f32(cfg.Momentum), f32(cfg.Beta1), f32(cfg.Beta2)
	if lossScale.Op != nil { // mixed precision: skip non-finite steps exactly
		o.Finite = op.IsFinite(n(), sumsq)
		ok := op.Cast(n(), o.Finite, tf.Float)
		notOK := op.Sub(n(), f32(1), ok)
		lr, blr = op.Mul(n(), lr, ok), op.Mul(n(), blr, ok)
		keep := func(x tf.Output) tf.Output { return op.Add(n(), op.Mul(n(), x, ok), notOK) }
		momentum, beta1, beta2 = keep(momentum), keep(beta1), keep(beta2)
		for i := range grads {
			grads[i] = op.Select(n(), o.Finite, grads[i], op.ZerosLike(n(), grads[i]))
		}
	}
	if cfg.Optimizer == "adamw" {
		o.Beta1Power = op.Placeholder(root.SubScope("beta1_power"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))
		o.Beta2Power = op.Placeholder(root.SubScope("beta2_power"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))
	}
	wd := f32(cfg.WeightDecay)
	var applies []*tf.Operation
	for i, v := range vars {
		rate := lr
		if inBackbone(v.Name) {
			rate = blr
			o.Backbone++
		}
		slot := func(name string) *ops.Variable {
			s := g.Variable("optimizer/"+v.Name+"/"+name, v.Shape, ops.Zeros(), ops.NotTrainable())
			o.Slots = append(o.Slots, s)
			return s
		}
		gr := grads[i]
		switch cfg.Optimizer {
		case "sgd":
			if cfg.WeightDecay > 0 {
				gr = op.Add(n(), gr, op.Mul(n(), wd, v.Value))
			}
			buf := slot("momentum")
			applies = append(applies, op.ResourceApplyMomentum(n(), v.Handle, buf.Handle, rate, gr, momentum,
				op.ResourceApplyMomentumUseNesterov(cfg.Nesterov)))
		case "adamw":
			m, s := slot("m"), slot("v")
			sc := n()
			if cfg.WeightDecay > 0 {
				decay := op.AssignSubVariableOp(n(), v.Handle, op.Mul(n(), op.Mul(n(), rate, wd), v.Value))
				sc = sc.WithControlDependencies(decay)
			}
			applies = append(applies, op.ResourceApplyAdam(sc, v.Handle, m.Handle, s.Handle, o.Beta1Power, o.Beta2Power,
				rate, beta1, beta2, f32(cfg.Epsilon), gr))
		default:
			return nil, fmt.Errorf("train.optimizer %q: want sgd or adamw", cfg.Optimizer)
		}
	}
	o.Step = g.Root().AddOperation(tf.OpSpec{Type: "NoOp", Name: "optimizer/step", ControlDependencies: append(applies, updates...)})
	return o, nil
}

// feeds adds the optimiser's inputs for an update that is the t-th applied one (from 1) at learning
// rate lr (new layers) and lr·backboneMult (backbone).
func (o *Optimizer) feeds(f map[tf.Output]*tf.Tensor, lr, backboneMult float64, t int64, beta1, beta2 float64) error {
	put := func(out tf.Output, v float64) error {
		x, err := tf.NewTensor(float32(v))
		if err != nil {
			return err
		}
		f[out] = x
		return nil
	}
	if err := put(o.LR, lr); err != nil {
		return err
	}
	if err := put(o.BackboneLR, lr*backboneMult); err != nil {
		return err
	}
	if o.Beta1Power.Op != nil {
		if err := put(o.Beta1Power, math.Pow(beta1, float64(t))); err != nil {
			return err
		}
		if err := put(o.Beta2Power, math.Pow(beta2, float64(t))); err != nil {
			return err
		}
	}
	return nil
}
