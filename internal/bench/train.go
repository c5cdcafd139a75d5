package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/train"
)

// TrainSpec is one training-throughput measurement: the model, the batch and how many steps to time.
type TrainSpec struct {
	Attention string   `json:"attention"`
	Depth     int      `json:"depth"`
	ImageSize int      `json:"image_size"`
	Batch     int      `json:"batch"`
	Classes   int      `json:"classes"`
	Warmup    int      `json:"warmup"` // untimed steps after the first one
	Steps     int      `json:"steps"`  // timed steps
	Settings  Settings `json:"settings"`
}

// TrainResult is what a TrainSpec measured.
type TrainResult struct {
	Spec        TrainSpec `json:"spec"`
	Params      int64     `json:"params"`
	ForwardMACs int64     `json:"forward_macs_per_image"` // nets.Stats
	StepGFLOP   float64   `json:"step_gflop"`             // counted work of one step (TrainStepFLOPs)
	// BuildSeconds is the graph construction (model, loss, gradients, optimiser); FirstStepSeconds the
	// session's first step (graph optimisation, XLA compilation, allocations).
	BuildSeconds     float64 `json:"build_seconds"`
	FirstStepSeconds float64 `json:"first_step_seconds"`
	Step             Timing  `json:"step"`
	ImagesPerSec     float64 `json:"images_per_s"` // batch / median step time
	GFLOPs           float64 `json:"gflops"`       // StepGFLOP / median step time
	// GFLOPsPerCPUSecond is StepGFLOP over the mean CPU time of a step (every thread of the process).
	GFLOPsPerCPUSecond float64 `json:"gflops_per_cpu_second"`
	Loss               float64 `json:"last_loss"`
}

// TrainConfig is the training configuration a spec measures: train.Default() with the spec's model
// and batch, and the optimiser made comparable to the Keras peer (SGD with momentum, no weight decay,
// no label smoothing, one learning rate for every variable).
func (s TrainSpec) TrainConfig() *train.Config {
	cfg := train.Default()
	cfg.Model.Attention = nets.Attention(s.Attention)
	cfg.Model.Depth = s.Depth
	cfg.Model.NumClasses = s.Classes
	cfg.Data.Root = "random-batch" // never read: the benchmark feeds a fixed random batch
	cfg.Data.ImageSize = s.ImageSize
	cfg.Data.ResizeSize = 0
	cfg.Train.BatchSize = s.Batch
	cfg.Train.Optimizer = "sgd"
	cfg.Train.WeightDecay = 0
	cfg.Train.LabelSmoothing = 0
	cfg.Train.ClipGradNorm = 0
	cfg.Runtime.IntraOpThreads = s.Settings.Session().IntraOpThreads
	cfg.Runtime.InterOpThreads = s.Settings.InterOpThreads
	cfg.Runtime.XLA = s.Settings.XLA
	return cfg
}

func (s TrainSpec) validate() error {
	if s.ImageSize < 32 || s.Batch < 1 || s.Classes < 1 || s.Steps < 1 || s.Warmup < 0 {
		return fmt.Errorf("train benchmark %+v: want image size >= 32, batch, classes and steps >= 1", s)
	}
	return nil
}

// Train builds the training graph of spec with train.BuildGraph and AddOptimizer, feeds one fixed
// random batch (float32 images uniform in 0..255, int32 labels) and times spec.Steps steps after the
// first step and spec.Warmup more. A step runs what the trainer runs: the optimiser update (with the
// batch-norm statistics updates) fetching the loss, the top-1 hits and the gradient norm.
func Train(ctx context.Context, spec TrainSpec) (*TrainResult, error) {
	res, err := TrainGroup(ctx, []TrainSpec{spec}, nil)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// TrainGroup measures several training steps side by side in one process: it builds every spec's
// graph and session, runs each one's first and warm-up steps, then times the steps round-robin (one
// step of each spec per round, spec.Steps rounds; every spec needs the same Steps). Each spec's steps
// thus see the same load as the others', which makes their ratios (a variant's overhead against
// `none`) far steadier than separate runs on a shared machine. The specs should share Settings: the
// process-wide ones (Env) are the same for all anyway. With turns, each round waits for its turn
// (lockstep with a peer process, see RunPair).
func TrainGroup(ctx context.Context, specs []TrainSpec, turns Turns) ([]*TrainResult, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("train benchmark: no specs")
	}
	var steppers []*trainStepper
	defer func() {
		for _, st := range steppers {
			st.sess.Close()
		}
	}()
	for _, spec := range specs {
		if spec.Steps != specs[0].Steps {
			return nil, fmt.Errorf("train benchmark: grouped specs time %d and %d steps, want the same", specs[0].Steps, spec.Steps)
		}
		st, err := newTrainStepper(spec)
		if err != nil {
			return nil, err
		}
		steppers = append(steppers, st)
	}
	for _, st := range steppers {
		var first Timing
		if err := first.Time(func() error { return st.step(ctx) }); err != nil {
			return nil, err
		}
		st.res.FirstStepSeconds = first.Best()
		for range st.res.Spec.Warmup {
			if err := st.step(ctx); err != nil {
				return nil, err
			}
		}
	}
	for range specs[0].Steps {
		err := round(turns, func() error {
			for _, st := range steppers {
				if err := st.res.Step.Time(func() error { return st.step(ctx) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]*TrainResult, len(steppers))
	for i, st := range steppers {
		res := st.res
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return nil, fmt.Errorf("train benchmark %s: loss %v after %d steps", res.Spec.Attention, res.Loss, 1+res.Spec.Warmup+res.Spec.Steps)
		}
		res.ImagesPerSec = res.Step.Rate(float64(res.Spec.Batch))
		res.GFLOPs = res.Step.Rate(res.StepGFLOP)
		if c := res.Step.CPUPerRun(); c > 0 {
			res.GFLOPsPerCPUSecond = res.StepGFLOP / c
		}
		out[i] = res
	}
	return out, nil
}

// trainStepper is one spec's training graph in a session, ready to step.
type trainStepper struct {
	res   *TrainResult
	sess  *tf.Session
	tg    *train.Graph
	feeds map[tf.Output]*tf.Tensor
}

func newTrainStepper(spec TrainSpec) (*trainStepper, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	cfg := spec.TrainConfig()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	res := &TrainResult{Spec: spec}
	var err error
	if res.Params, res.ForwardMACs, err = nets.Stats(cfg.NetConfig(spec.Classes), spec.ImageSize); err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	res.StepGFLOP = TrainStepFLOPs(res.ForwardMACs, spec.Batch) / 1e9

	start := time.Now()
	tg, err := train.BuildGraph(cfg, spec.Classes, nil)
	if err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	if err := tg.AddOptimizer(cfg.Train, nil); err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	res.BuildSeconds = time.Since(start).Seconds()
	feeds, err := trainFeeds(tg, spec)
	if err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	sess, err := train.NewSession(cfg, tg.G.TF())
	if err != nil {
		return nil, fmt.Errorf("train benchmark: %w", err)
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("train benchmark: initialise variables: %w", err)
	}
	return &trainStepper{res: res, sess: sess, tg: tg, feeds: feeds}, nil
}

// step runs one training step and keeps its loss.
func (st *trainStepper) step(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fetches, targets := st.runArgs()
	out, err := st.sess.Run(st.feeds, fetches, targets)
	if err != nil {
		return fmt.Errorf("train benchmark %s: step: %w", st.res.Spec.Attention, err)
	}
	st.res.Loss = float64(out[0].Value().(float32))
	return nil
}

// runArgs are what a training step fetches and runs: the loss, the top-1 hits and the gradient norm,
// and the optimiser update (the profile runs the same).
func (st *trainStepper) runArgs() ([]tf.Output, []*tf.Operation) {
	return []tf.Output{st.tg.Loss, st.tg.Correct, st.tg.GradNorm}, []*tf.Operation{st.tg.Opt.Step}
}

// trainFeeds is the fixed batch of a spec and the optimiser's inputs.
func trainFeeds(tg *train.Graph, spec TrainSpec) (map[tf.Output]*tf.Tensor, error) {
	rng := rand.New(rand.NewPCG(1, uint64(spec.ImageSize)))
	n := spec.Batch * spec.ImageSize * spec.ImageSize * 3
	pix := make([]float32, n)
	for i := range pix {
		pix[i] = 255 * rng.Float32()
	}
	images, err := tf.NewTensor(pix)
	if err != nil {
		return nil, err
	}
	if err := images.Reshape([]int64{int64(spec.Batch), int64(spec.ImageSize), int64(spec.ImageSize), 3}); err != nil {
		return nil, err
	}
	labels := make([]int32, spec.Batch)
	for i := range labels {
		labels[i] = int32(i % spec.Classes)
	}
	feeds := map[tf.Output]*tf.Tensor{tg.Images: images}
	put := func(out tf.Output, v any) error {
		t, err := tf.NewTensor(v)
		if err == nil {
			feeds[out] = t
		}
		return err
	}
	if err := put(tg.Labels, labels); err != nil {
		return nil, err
	}
	if err := put(tg.Opt.LR, float32(0.01)); err != nil {
		return nil, err
	}
	if err := put(tg.Opt.BackboneLR, float32(0.01)); err != nil {
		return nil, err
	}
	if tg.StepSeed.Op != nil {
		if err := put(tg.StepSeed, []int64{1, 2}); err != nil {
			return nil, err
		}
	}
	return feeds, nil
}
