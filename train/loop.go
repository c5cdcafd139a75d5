package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/pipeline"
)

// stepResult is what one training step computed, read out of its fetched tensors.
type stepResult struct {
	Epoch    int     // 1-based
	Step     int64   // the run's step number of this step, 1-based
	Images   int     // batch size
	LR       float64 // learning rate of the new layers
	Loss     float64 // mean loss of the batch (label smoothing included)
	Correct  int64   // top-1 hits in the batch
	GradNorm float64 // global gradient norm before clipping
	// Applied is false only for a mixed-precision step whose gradients were not finite: the optimiser
	// left every variable and slot as it was.
	Applied bool
	Seconds float64 // feeding and running the step
}

// stepHook sees every step's result in turn; an error ends the run. The hooks of a run are, in order:
// the loss guard, dynamic loss scaling (mixed precision only), the epoch's running sums, progress.
type stepHook func(stepResult) error

// epochHook sees every epoch's metrics once its checkpoint is written; an error ends the run. The hooks
// of a run are, in order: the metrics files, progress, TensorBoard.
type epochHook func(context.Context, EpochMetrics) error

// stepHooks are the run's step hooks, in the order stepHook lists.
func (r *runner) stepHooks() []stepHook {
	hooks := []stepHook{r.checkLoss}
	if r.tg.Opt.Finite.Op != nil {
		hooks = append(hooks, (&lossScaler{st: r.st, growEvery: lossScaleGrowEvery}).onStep)
	}
	return append(hooks, r.count, r.showStep)
}

// epochHooks are the run's epoch hooks, in the order epochHook lists.
func (r *runner) epochHooks() []epochHook {
	return []epochHook{
		func(context.Context, EpochMetrics) error { return writeMetrics(r.dir, r.st.History) },
		func(_ context.Context, m EpochMetrics) error { r.prog.EndEpoch(m); return nil },
		r.logEpoch,
	}
}

// trainEpoch runs the steps of epoch (1-based), from where a resumed run stopped, then the epoch's
// evaluation, metrics and checkpoint.
func (r *runner) trainEpoch(ctx, work context.Context, epoch int) error {
	st := r.st
	r.prog.StartEpoch(epoch, r.spe, st.StepInEpoch, st.Step, int64(r.spe)*int64(r.cfg.Train.Epochs))
	it, err := r.data.Loader.Train(work, r.data.Train, epoch, st.StepInEpoch)
	if err != nil {
		return fmt.Errorf("epoch %d: %w", epoch, err)
	}
	defer it.Close()
	hooks := r.stepHooks()
	for st.StepInEpoch < r.spe {
		if r.stopRequested(ctx) {
			return r.interrupt()
		}
		b, err := r.nextBatch(it, epoch)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		res, err := r.step(epoch, b)
		if err != nil {
			return err
		}
		for _, h := range hooks {
			if err := h(res); err != nil {
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return r.endEpoch(ctx, work, epoch)
}

// nextBatch reads the epoch's next training batch; nil at the end of an epoch cut short by unreadable
// images.
func (r *runner) nextBatch(it Batches, epoch int) (*pipeline.Batch, error) {
	b, err := it.Next()
	if errors.Is(err, io.EOF) {
		r.prog.Warnf("warning: epoch %d ended after %d of %d steps (unreadable images were skipped)", epoch, r.st.StepInEpoch, r.spe)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("epoch %d, batch %d: %w", epoch, r.st.StepInEpoch+1, err)
	}
	if bs := r.cfg.Train.BatchSize; b.Len() != bs {
		b.Release()
		return nil, fmt.Errorf("epoch %d, batch %d: %d images, want train.batch_size %d", epoch, r.st.StepInEpoch+1, b.Len(), bs)
	}
	return b, nil
}

// step feeds batch b (and releases it) and runs one optimisation step on it.
func (r *runner) step(epoch int, b *pipeline.Batch) (stepResult, error) {
	res := stepResult{Epoch: epoch, Step: r.st.Step + 1, Images: b.Len()}
	t0 := time.Now()
	feeds, lr, err := r.stepFeeds(b)
	b.Release()
	if err != nil {
		return res, err
	}
	res.LR = lr
	out, err := r.sess.Run(feeds, r.tg.stepFetches(), []*tf.Operation{r.tg.Opt.Step})
	if err != nil {
		return res, fmt.Errorf("epoch %d, step %d: %w", epoch, res.Step, err)
	}
	res.Seconds = time.Since(t0).Seconds()
	if err := res.read(out); err != nil {
		return res, fmt.Errorf("epoch %d, step %d: %w", epoch, res.Step, err)
	}
	return res, nil
}

// stepFeeds are the inputs of the next step: the batch, the learning rates of the schedule, the
// optimiser's update count and the seeds.
func (r *runner) stepFeeds(b *pipeline.Batch) (map[tf.Output]*tf.Tensor, float64, error) {
	cfg, tg, st := r.cfg, r.tg, r.st
	feeds := map[tf.Output]*tf.Tensor{}
	img, err := imageTensor(b, cfg.Data.ImageSize)
	if err != nil {
		return nil, 0, err
	}
	lab, err := tf.NewTensor(b.Labels)
	if err != nil {
		return nil, 0, err
	}
	feeds[tg.Images], feeds[tg.Labels] = img, lab
	lr := r.sched.At(st.Step)
	if err := tg.Opt.feeds(feeds, lr, cfg.Train.BackboneLRMult, st.Applied+1, cfg.Train.Beta1, cfg.Train.Beta2); err != nil {
		return nil, 0, err
	}
	if tg.StepSeed.Op != nil {
		s, err := tf.NewTensor([]int64{st.Seed, st.Step})
		if err != nil {
			return nil, 0, err
		}
		feeds[tg.StepSeed] = s
	}
	if tg.lossScale.Op != nil {
		s, err := tf.NewTensor(float32(st.LossScale))
		if err != nil {
			return nil, 0, err
		}
		feeds[tg.lossScale] = s
	}
	return feeds, lr, nil
}

// stepFetches are the tensors a training step fetches, in the order stepResult.read reads them.
func (tg *Graph) stepFetches() []tf.Output {
	fetch := []tf.Output{tg.Loss, tg.Correct, tg.GradNorm}
	if tg.Opt.Finite.Op != nil {
		fetch = append(fetch, tg.Opt.Finite)
	}
	return fetch
}

// read takes the step's loss, hits, gradient norm and (with mixed precision) whether it was applied
// from the tensors of Graph.stepFetches.
func (res *stepResult) read(out []*tf.Tensor) error {
	if len(out) < 3 {
		return fmt.Errorf("the training step returned %d tensors, want at least 3", len(out))
	}
	loss, ok1 := out[0].Value().(float32)
	correct, ok2 := out[1].Value().(int32)
	norm, ok3 := out[2].Value().(float32)
	res.Applied = true
	ok4 := true
	if len(out) > 3 {
		res.Applied, ok4 = out[3].Value().(bool)
	}
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return errors.New("the training step returned tensors of unexpected types (want float32 loss, int32 hits, float32 norm, bool applied)")
	}
	res.Loss, res.Correct, res.GradNorm = float64(loss), int64(correct), float64(norm)
	return nil
}

// checkLoss stops the run at a non-finite loss, before the step is counted or checkpointed.
func (r *runner) checkLoss(res stepResult) error {
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return &NonFiniteLoss{Epoch: res.Epoch, Step: res.Step, Loss: res.Loss, LR: res.LR, Checkpoint: r.latest(), RunDir: r.dir}
	}
	return nil
}

// count adds the step to the run's state: its counters and the epoch's running sums, from which the
// epoch's metrics come.
func (r *runner) count(res stepResult) error {
	st := r.st
	if res.Applied {
		st.Applied++
	}
	st.Step++
	st.StepInEpoch++
	p := &st.Partial
	p.Loss += res.Loss * float64(res.Images)
	p.Correct += res.Correct
	p.Images += int64(res.Images)
	p.Seconds += res.Seconds
	p.GradNorm += res.GradNorm
	st.TrainSeconds += res.Seconds
	return nil
}

// showStep reports the epoch's running loss, accuracy and throughput.
func (r *runner) showStep(res stepResult) error {
	st, p := r.st, &r.st.Partial
	ips := float64(p.Images) / math.Max(p.Seconds, 1e-9)
	r.prog.Step(st.StepInEpoch, st.Step, p.Loss/float64(p.Images), float64(p.Correct)/float64(p.Images), ips, res.LR)
	return nil
}

// interrupt writes a checkpoint of the state mid-epoch and returns the *Interrupted that says how to
// resume from it.
func (r *runner) interrupt() error {
	st := r.st
	st.WallSeconds = r.wall()
	dir, err := r.ckpt.Save(r.sess, st, false)
	if err != nil {
		return err
	}
	return &Interrupted{RunDir: r.dir, Epoch: st.Epoch, Step: st.Step, Checkpoint: dir}
}

// Dynamic loss scaling: the scale a mixed-precision run starts at, its bounds, and how many finite steps
// in a row double it (the values of TensorFlow's and PyTorch's dynamic loss scalers).
const (
	initialScale       = 32768
	minLossScale       = 1
	maxLossScale       = 1 << 24
	lossScaleGrowEvery = 2000
)

// initialLossScale is the loss scale a new run starts at: 0 (none) without mixed precision.
func initialLossScale(cfg *Config) float64 {
	if cfg.Train.MixedPrecision {
		return initialScale
	}
	return 0
}

// lossScaler is dynamic loss scaling over the run's state, which checkpoints carry: a step whose
// gradients overflowed (the optimiser skipped it) halves the scale, growEvery finite steps in a row
// double it.
type lossScaler struct {
	st        *State
	growEvery int
}

func (l *lossScaler) onStep(res stepResult) error {
	st := l.st
	if !res.Applied {
		st.LossScale = math.Max(st.LossScale/2, minLossScale)
		st.GoodSteps = 0
		return nil
	}
	st.GoodSteps++
	if st.GoodSteps >= l.growEvery {
		st.LossScale = math.Min(st.LossScale*2, maxLossScale)
		st.GoodSteps = 0
	}
	return nil
}
