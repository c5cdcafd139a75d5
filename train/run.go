package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/internal/atomicfile"
	"github.com/finegrain/finegrain/internal/dirlock"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
)

// Options are the settings of one invocation of Run (the command-line flags of cmd/train).
type Options struct {
	RunDir string // the run directory
	Resume bool   // continue the run in RunDir from its latest checkpoint
	Force  bool   // start over in an existing run directory, deleting it
	Quiet  bool   // no progress output (warnings and errors only)
	// Log receives progress and log lines; nil means os.Stderr.
	Log io.Writer
	// Build builds the model; nil means nets.Build.
	Build BuildFunc
	// Data is the dataset; nil means OpenData(ctx, cfg).
	Data *Data
	// StopAfter stops the run as SIGINT does once this many optimisation steps have been taken in all
	// (0: never): for tests and time-boxed jobs.
	StopAfter int64
}

// Interrupted is the error of a run stopped early (SIGINT, SIGTERM, Options.StopAfter) after it wrote a
// checkpoint to resume from.
type Interrupted struct {
	RunDir     string
	Epoch      int   // epochs completed
	Step       int64 // steps taken
	Checkpoint string
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("stopped after %d steps (%d epochs complete); checkpoint %s written.\nResume with: go run ./cmd/train -resume -out %s",
		e.Step, e.Epoch, e.Checkpoint, e.RunDir)
}

// NonFiniteLoss is the error of a run whose loss became NaN or infinite. No checkpoint is written after
// it, so the last one is the last good state.
type NonFiniteLoss struct {
	Epoch      int
	Step       int64
	Loss       float64
	LR         float64
	Checkpoint string // the last good checkpoint, or "" if none was written
	RunDir     string
}

func (e *NonFiniteLoss) Error() string {
	msg := fmt.Sprintf("training loss is %v at epoch %d, step %d (learning rate %.3g): stopped.", e.Loss, e.Epoch, e.Step, e.LR)
	if e.Checkpoint != "" {
		msg += fmt.Sprintf("\nThe last good checkpoint is %s; resume from it with a lower train.lr or a train.clip_grad_norm:\n  go run ./cmd/train -resume -out %s -set train.lr=%.3g -set train.clip_grad_norm=5",
			e.Checkpoint, e.RunDir, e.LR/10)
	} else {
		msg += " No checkpoint was written yet; lower train.lr or set train.clip_grad_norm."
	}
	return msg
}

// Summary is RUN/summary.json: the result of a finished run. Accuracies are fractions in 0..1.
type Summary struct {
	NumClasses       int      `json:"num_classes"`
	TestTop1         float64  `json:"test_top1"`
	TestTop5         float64  `json:"test_top5"`
	TestMeanClassAcc float64  `json:"test_mean_class_acc"`
	FinalTestTop1    *float64 `json:"final_test_top1"` // the last epoch's model, whichever model was selected
	ValTop1          *float64 `json:"val_top1"`        // of the selected model; null without a validation split
	Epochs           int      `json:"epochs"`
	BestEpoch        int      `json:"best_epoch"` // the epoch of the selected model
	WallSeconds      float64  `json:"wall_seconds"`
	TrainSeconds     float64  `json:"train_seconds"`
	ImagesPerSecond  float64  `json:"images_per_second"` // training throughput
	Attention        string   `json:"attention"`
	Dataset          string   `json:"dataset"`
	DataRoot         string   `json:"data_root"`
	Seed             int64    `json:"seed"`
	Selection        string   `json:"selection"` // last | best_val
	SelectionNote    string   `json:"selection_note"`
	Depth            int      `json:"depth"`
	WidthMultiplier  float64  `json:"width_multiplier"`
	ImageSize        int      `json:"image_size"`
	Params           int64    `json:"params"`
	TrainImages      int      `json:"train_images"`
	ValImages        int      `json:"val_images"`
	TestImages       int      `json:"test_images"`
	Checkpoint       string   `json:"checkpoint"` // the checkpoint evaluated on the test split
	TensorFlow       string   `json:"tensorflow"`

	// Pretrained is the import of model.pretrained in brief (RUN/pretrained.json has it in full); absent
	// for a run from scratch.
	Pretrained *PretrainedSummary `json:"pretrained,omitempty"`
}

// Run trains cfg in opt.RunDir and returns the summary it also writes to RUN/summary.json. Cancel ctx to
// stop after the current step with a checkpoint (the error is then *Interrupted).
func Run(ctx context.Context, cfg *Config, opt Options) (*Summary, error) {
	if opt.RunDir == "" {
		return nil, errors.New("train: no run directory")
	}
	if opt.Log == nil {
		opt.Log = os.Stderr
	}
	lock, err := prepareRunDir(opt.RunDir, opt.Resume, opt.Force, opt.Log)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	r := &runner{cfg: cfg, opt: opt, dir: opt.RunDir, start: time.Now()}
	r.prog = NewProgress(opt.Log, opt.Quiet, cfg.Log.EverySteps, cfg.Train.Epochs)
	defer r.close()
	s, err := r.run(ctx)
	return s, r.clusterError(err)
}

// prepareRunDir takes the run directory's lock, then refuses to overwrite a run without resume or
// force. The lock is held until the run ends, so no second process writes the same run.
func prepareRunDir(dir string, resume, force bool, log io.Writer) (*dirlock.Lock, error) {
	lock, err := lockRunDir(dir, resume)
	if err != nil {
		return nil, err
	}
	if lock.Stale != "" {
		// Only informs: the kernel released the killed holder's flock, so the run is ours now.
		fmt.Fprintf(log, "note: %s: a stale lock was found (%s)\n", lock.Path(), lock.Stale)
	}
	if err := checkRunDir(dir, resume, force); err != nil {
		lock.Release()
		return nil, err
	}
	return lock, nil
}

// checkRunDir refuses a resume without a checkpoint to resume or a directory to write it, and a new run
// in a directory that holds anything but the lock, unless force clears it.
func checkRunDir(dir string, resume, force bool) error {
	if resume {
		if _, _, err := ResolveCheckpoint(dir, false); err != nil {
			return fmt.Errorf("-resume: %w", err)
		}
		// Say it now rather than after indexing the data, building the graph and restoring.
		for _, d := range []string{dir, filepath.Join(dir, checkpointsDir)} {
			if err := checkWritable(d); err != nil {
				return fmt.Errorf("-resume: %w", err)
			}
		}
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == lockFile })
	if len(entries) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("run directory %s exists: use -resume to continue it, -force to delete it and start over, or -out for another directory", dir)
	}
	return clearRunDir(dir)
}

// checkWritable reports whether a file can be created in dir, by creating and removing one.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".tmp-writable-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// runner is one invocation of Run: its configuration, the graph and session it built, and the state that
// its checkpoints carry.
type runner struct {
	cfg    *Config
	opt    Options
	dir    string
	start  time.Time
	prog   *Progress
	data   *Data
	tg     *Graph
	sess   *tf.Session
	ckpt   *Checkpointer
	events *EventWriter
	st     *State
	// wallBase is the wall time of earlier sessions of a resumed run
	wallBase float64
	sched    Schedule
	// schedChange is how a resumed session's schedule differs from its checkpoint's, until the first
	// epoch it ends records it.
	schedChange *ScheduleChange
	spe         int // steps per epoch
}

func (r *runner) close() {
	if r.events != nil {
		if err := r.events.Close(); err != nil {
			r.prog.Warnf("warning: %v", err)
		}
	}
	if r.sess != nil {
		r.sess.Close()
	}
}

func (r *runner) run(ctx context.Context) (*Summary, error) {
	cfg := r.cfg
	work := context.WithoutCancel(ctx) // loaders and evaluation finish even when a stop is requested
	var err error
	r.data = r.opt.Data
	if r.data == nil {
		if r.data, err = OpenData(work, cfg, r.prog.Printf); err != nil {
			return nil, err
		}
	}
	k, err := numClasses(cfg, r.data)
	if err != nil {
		return nil, err
	}
	r.spe = len(r.data.Train) / cfg.Train.BatchSize
	if r.spe == 0 {
		return nil, fmt.Errorf("the training split of %s has %d images, fewer than train.batch_size (%d)", r.data.Source, len(r.data.Train), cfg.Train.BatchSize)
	}
	if len(r.data.Test) == 0 {
		return nil, fmt.Errorf("%s has no test images", r.data.Source)
	}
	r.sched = NewSchedule(cfg.Train, r.spe)
	if r.opt.Resume {
		// Before anything is built: a resume that contradicts the checkpoint is refused, not half-done.
		if err := r.readResumeState(cfg.NetConfig(k)); err != nil {
			return nil, err
		}
		// Before config.yaml is rewritten: it still holds the schedule the checkpoint was trained with.
		if old, err := TrainedSchedule(r.dir, r.spe); err != nil {
			r.prog.Warnf("warning: %v; the learning rate follows the current configuration", err)
		} else if r.schedChange = ChangeAt(old, r.sched, r.st.Step); r.schedChange != nil {
			r.prog.Warnf("%s", r.schedChange)
		}
	}

	if r.tg, err = BuildGraph(cfg, k, r.opt.Build); err != nil {
		return nil, err
	}
	if r.sess, err = NewSession(cfg, r.tg.G.TF()); err != nil {
		return nil, err
	}
	if cfg.Train.MixedPrecision && !hasGPU(r.sess) {
		r.prog.Warnf("warning: train.mixed_precision is for GPUs and no GPU is visible: computing in float32 (loss scaling still on)")
	}
	if err := r.initialise(); err != nil {
		return nil, err
	}
	r.ckpt = &Checkpointer{Dir: filepath.Join(r.dir, checkpointsDir), Keep: cfg.Checkpoint.Keep, Saver: r.tg.Saver}
	text, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(r.dir, "config.yaml"), text); err != nil {
		return nil, err
	}
	if err := writeMetrics(r.dir, r.st.History); err != nil {
		return nil, err
	}
	if cfg.Log.TensorBoard {
		if r.events, err = NewEventWriter(filepath.Join(r.dir, "events")); err != nil {
			return nil, err
		}
		if r.opt.Resume {
			if err := r.events.Restart(int64(r.st.Epoch) + 1); err != nil { // event steps are epochs
				return nil, err
			}
		}
	}
	r.prog.Printf("run %s: %s-ResNet%d ×%g, %d classes, %d params | %s: %d train, %d val, %d test | %d steps/epoch × %d epochs",
		r.dir, cfg.Model.Attention, cfg.Model.Depth, cfg.Model.WidthMultiplier, k, r.tg.ModelParams(),
		r.data.Source, len(r.data.Train), len(r.data.Val), len(r.data.Test), r.spe, cfg.Train.Epochs)
	if r.opt.Resume {
		r.prog.Printf("resuming after step %d (epoch %d, step %d of %d)", r.st.Step, r.st.Epoch+1, r.st.StepInEpoch, r.spe)
	}

	for epoch := r.st.Epoch + 1; epoch <= cfg.Train.Epochs; epoch++ {
		if err := r.trainEpoch(ctx, work, epoch); err != nil {
			return nil, err
		}
		if r.stopRequested(ctx) && epoch < cfg.Train.Epochs {
			return nil, &Interrupted{RunDir: r.dir, Epoch: r.st.Epoch, Step: r.st.Step, Checkpoint: r.latest()}
		}
	}
	return r.finish(work)
}

// initialise sets every variable: from the latest checkpoint when resuming, else from the initialisers
// and model.pretrained, and adds the optimiser (whose parameter groups the import decides).
func (r *runner) initialise() error {
	cfg, tg := r.cfg, r.tg
	if r.opt.Resume {
		_, prefix, err := ResolveCheckpoint(r.dir, false)
		if err != nil {
			return err
		}
		r.wallBase = r.st.WallSeconds
		if err := tg.AddOptimizer(cfg.Train, r.st.Backbone); err != nil {
			return err
		}
		if _, err := r.sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
			return fmt.Errorf("initialise variables: %w", err)
		}
		return tg.Saver.RestoreFrom(r.sess, prefix)
	}
	net := tg.Net
	r.st = &State{Seed: cfg.Train.Seed, LossScale: initialLossScale(cfg), BestVal: -1, Net: &net}
	if _, err := r.sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
		return fmt.Errorf("initialise variables: %w", err)
	}
	if cfg.Model.Pretrained != "" {
		p, err := r.importPretrained() // strict unless model.pretrained_strict: false; writes RUN/pretrained.json
		if err != nil {
			return err
		}
		rep := p.ImportReport
		r.st.Backbone = rep.Loaded
		r.prog.Printf("loaded %d variables from %s (sha256 %.12s…); %d new ones (backbone lr ×%g)", len(rep.Loaded), rep.File, rep.SHA256, len(rep.Initialised), cfg.Train.BackboneLRMult)
		for _, n := range rep.Notes {
			r.prog.Printf("  %s", n)
		}
		if len(rep.Problems) > 0 {
			r.prog.Warnf("warning: model.pretrained_strict is false: a partial load with %d problems was accepted (all listed in %s): %s",
				len(rep.Problems), filepath.Join(r.dir, PretrainedFile), strings.Join(rep.Problems[:min(3, len(rep.Problems))], "; "))
		}
	}
	if err := tg.AddOptimizer(cfg.Train, r.st.Backbone); err != nil {
		return err
	}
	var inits []*tf.Operation
	for _, v := range tg.Opt.Slots {
		inits = append(inits, v.Init)
	}
	if len(inits) > 0 {
		if _, err := r.sess.Run(nil, nil, inits); err != nil {
			return fmt.Errorf("initialise optimizer slots: %w", err)
		}
	}
	return nil
}

// readResumeState reads the state of the checkpoint a resume starts from and refuses a configuration or
// dataset that contradicts it: another architecture or class count, another seed, fewer epochs than
// the run has completed, or an epoch length that the recorded position does not fit.
func (r *runner) readResumeState(net nets.Config) error {
	cfg := r.cfg
	ckdir, _, err := ResolveCheckpoint(r.dir, false)
	if err != nil {
		return err
	}
	st, err := ReadState(ckdir)
	if err != nil {
		return err
	}
	if st.Net != nil {
		if diff := st.Net.ArchitectureDiff(net); len(diff) > 0 {
			return fmt.Errorf("-resume: %s was trained as another model than the configuration and data now describe (checkpoint vs now):\n  %s\nresume with the run's own settings, or start a new run with -out", ckdir, strings.Join(diff, "\n  "))
		}
	} else {
		st.Net = &net // written before architectures were recorded: record it from now on
	}
	switch spe := int64(r.spe); {
	case st.Seed != cfg.Train.Seed:
		return fmt.Errorf("-resume: train.seed %d: the run was started with seed %d (%s); resume with the same seed, or start a new run with -out", cfg.Train.Seed, st.Seed, ckdir)
	case st.Epoch > cfg.Train.Epochs:
		return fmt.Errorf("-resume: train.epochs %d is fewer than the %d epochs this run has completed (%s): a run can be extended, not shortened; evaluate an earlier checkpoint with cmd/eval instead", cfg.Train.Epochs, st.Epoch, ckdir)
	case int64(st.StepInEpoch) >= spe || st.Step > int64(st.Epoch)*spe+int64(st.StepInEpoch):
		return fmt.Errorf("-resume: %s stopped at step %d (epoch %d, step %d in the epoch), which does not fit epochs of %d steps (%d training images, train.batch_size %d): the data or the batch size changed since; resume with the run's own data and settings",
			filepath.Join(ckdir, stateFile), st.Step, st.Epoch+1, st.StepInEpoch, spe, len(r.data.Train), cfg.Train.BatchSize)
	}
	r.st = st
	return nil
}

// stopRequested reports whether the run should stop at the next step boundary: ctx was cancelled (SIGINT,
// SIGTERM) or Options.StopAfter steps were taken.
func (r *runner) stopRequested(ctx context.Context) bool {
	return ctx.Err() != nil || (r.opt.StopAfter > 0 && r.st.Step >= r.opt.StopAfter)
}

// latest is the directory of the run's latest checkpoint, "" if none was written.
func (r *runner) latest() string {
	p, err := ReadPointer(r.ckpt.Dir)
	if err != nil || p.Latest == "" {
		return ""
	}
	return filepath.Join(r.ckpt.Dir, p.Latest)
}

// endEpoch validates, records the epoch's metrics and writes the checkpoint.
func (r *runner) endEpoch(ctx, work context.Context, epoch int) error {
	cfg, st := r.cfg, r.st
	p := st.Partial
	if p.Images == 0 {
		return fmt.Errorf("epoch %d: no training batch could be read", epoch)
	}
	m := EpochMetrics{
		Epoch: epoch, Step: st.Step, LR: r.sched.At(st.Step - 1),
		TrainLoss: p.Loss / float64(p.Images), TrainTop1: float64(p.Correct) / float64(p.Images),
		ImagesPerSecond: float64(p.Images) / math.Max(p.Seconds, 1e-9), GradNorm: p.GradNorm / float64(p.Images/int64(cfg.Train.BatchSize)),
		LossScale: st.LossScale, ScheduleChange: r.schedChange,
	}
	r.schedChange = nil
	best := false
	if len(r.data.Val) > 0 && (epoch%cfg.Train.EvalEveryEpochs == 0 || epoch == cfg.Train.Epochs) {
		ev, err := Evaluate(work, r.sess, r.tg, r.data.Loader, r.data.Val)
		if err != nil {
			return fmt.Errorf("epoch %d validation: %w", epoch, err)
		}
		m.ValTop1, m.ValTop5, m.ValMeanClassAcc, m.ValLoss = ptr(ev.Top1Acc()), ptr(ev.Top5Acc()), ptr(ev.MeanClassAcc()), ptr(ev.Loss())
		if ev.Top1Acc() > st.BestVal {
			st.BestVal, st.BestEpoch, best = ev.Top1Acc(), epoch, true
		}
	}
	epochSeconds := time.Since(r.prog.start).Seconds()
	st.Epoch, st.StepInEpoch, st.Partial = epoch, 0, EpochSums{}
	m.EpochSeconds = epochSeconds
	m.WallSeconds = r.wall()
	st.WallSeconds = m.WallSeconds
	st.History = append(st.History, m)
	if epoch%cfg.Checkpoint.EveryEpochs == 0 || epoch == cfg.Train.Epochs || best || r.stopRequested(ctx) {
		if _, err := r.ckpt.Save(r.sess, st, best && cfg.Train.Selection == "best_val"); err != nil {
			return err
		}
	}
	for _, h := range r.epochHooks() {
		if err := h(work, m); err != nil {
			return err
		}
	}
	return nil
}

// wall is the run's wall time so far, earlier sessions of a resumed run included.
func (r *runner) wall() float64 { return r.wallBase + time.Since(r.start).Seconds() }

// logEpoch writes the epoch's TensorBoard scalars and class-activation-map overlays.
func (r *runner) logEpoch(work context.Context, m EpochMetrics) error {
	if r.events == nil {
		return nil
	}
	vals := map[string]float64{
		"train/loss": m.TrainLoss, "train/top1": m.TrainTop1, "lr": m.LR, "images_per_second": m.ImagesPerSecond,
		"grad_norm": m.GradNorm,
	}
	order := []string{"train/loss", "train/top1", "lr", "images_per_second", "grad_norm"}
	if m.ValTop1 != nil {
		vals["val/top1"], vals["val/top5"], vals["val/mean_class_acc"], vals["val/loss"] = *m.ValTop1, *m.ValTop5, *m.ValMeanClassAcc, *m.ValLoss
		order = append(order, "val/top1", "val/top5", "val/mean_class_acc", "val/loss")
	}
	if m.TestTop1 != nil {
		vals["test/top1"], vals["test/top5"], vals["test/mean_class_acc"] = *m.TestTop1, *m.TestTop5, *m.TestMeanClass
		order = append(order, "test/top1", "test/top5", "test/mean_class_acc")
	}
	if err := r.events.Scalars(int64(m.Epoch), vals, order); err != nil {
		return err
	}
	if n := r.cfg.Log.CAMImages; n > 0 && m.TestTop1 == nil {
		recs := r.data.Val
		if len(recs) == 0 {
			recs = r.data.Train
		}
		if err := r.logCAMs(work, int64(m.Epoch), recs[:min(n, len(recs))]); err != nil {
			return err
		}
	}
	return r.events.Flush()
}

func (r *runner) logCAMs(work context.Context, step int64, recs []pipeline.Record) error {
	overlays, err := CAMs(work, r.sess, r.tg, r.data.Loader, recs)
	if err != nil {
		// Pictures for TensorBoard are not worth a run: an unreadable image among them costs the
		// pictures of this epoch, not the training.
		r.prog.Warnf("warning: class activation maps of epoch %d left out: %v", step, err)
		return nil
	}
	for i, o := range overlays {
		if err := r.events.Image(step, fmt.Sprintf("cam/%d", i), o.PNG, o.Size, o.Size, 3); err != nil {
			return err
		}
	}
	return nil
}

// finish evaluates the selected model on the test split and writes summary.json.
func (r *runner) finish(work context.Context) (*Summary, error) {
	cfg, st := r.cfg, r.st
	ptrFile, err := ReadPointer(r.ckpt.Dir)
	if err != nil {
		return nil, err
	}
	chosen, selEpoch := ptrFile.Latest, st.Epoch
	note := "the model of the last epoch; the test split was never used for selection"
	var valTop1, finalTop1 *float64
	if len(st.History) > 0 {
		valTop1 = st.History[len(st.History)-1].ValTop1
	}
	if cfg.Train.Selection == "best_val" && ptrFile.Best != "" {
		chosen, selEpoch = ptrFile.Best, st.BestEpoch
		valTop1 = ptr(st.BestVal)
		note = fmt.Sprintf("the epoch with the best top-1 on a validation split of %d images carved from the training set; the test split was never used for selection", len(r.data.Val))
		if chosen != ptrFile.Latest {
			// The last epoch's model is reported beside the selected one (never used to select).
			last, err := Evaluate(work, r.sess, r.tg, r.data.Loader, r.data.Test)
			if err != nil {
				return nil, fmt.Errorf("test evaluation of the last epoch: %w", err)
			}
			finalTop1 = ptr(last.Top1Acc())
			if err := r.tg.Saver.RestoreFrom(r.sess, filepath.Join(r.ckpt.Dir, chosen, modelPrefix)); err != nil {
				return nil, err
			}
		}
	}
	ev, err := Evaluate(work, r.sess, r.tg, r.data.Loader, r.data.Test)
	if err != nil {
		return nil, fmt.Errorf("test evaluation: %w", err)
	}
	if finalTop1 == nil {
		finalTop1 = ptr(ev.Top1Acc())
	}
	last := &st.History[len(st.History)-1]
	last.TestTop1, last.TestTop5, last.TestMeanClass = ptr(ev.Top1Acc()), ptr(ev.Top5Acc()), ptr(ev.MeanClassAcc())
	if err := writeMetrics(r.dir, st.History); err != nil {
		return nil, err
	}
	if err := ev.WriteConfusionCSV(filepath.Join(r.dir, "confusion_test.csv"), r.data.Classes); err != nil {
		return nil, err
	}
	if err := ev.WritePerClassCSV(filepath.Join(r.dir, "per_class_test.csv"), r.data.Classes); err != nil {
		return nil, err
	}
	s := &Summary{
		NumClasses: r.tg.Net.NumClasses, TestTop1: ev.Top1Acc(), TestTop5: ev.Top5Acc(), TestMeanClassAcc: ev.MeanClassAcc(),
		FinalTestTop1: finalTop1,
		ValTop1:       valTop1, Epochs: st.Epoch, BestEpoch: selEpoch,
		WallSeconds: r.wall(), TrainSeconds: st.TrainSeconds,
		ImagesPerSecond: float64(st.Step*int64(cfg.Train.BatchSize)) / math.Max(st.TrainSeconds, 1e-9),
		Attention:       string(cfg.Model.Attention), Dataset: cfg.Data.Format, DataRoot: cfg.Data.Root, Seed: cfg.Train.Seed,
		Selection: cfg.Train.Selection, SelectionNote: note, Depth: cfg.Model.Depth, WidthMultiplier: cfg.Model.WidthMultiplier,
		ImageSize: cfg.Data.ImageSize, Params: r.tg.ModelParams(),
		TrainImages: len(r.data.Train), ValImages: len(r.data.Val), TestImages: len(r.data.Test),
		Checkpoint: filepath.Join(r.ckpt.Dir, chosen), TensorFlow: tf.Version(),
	}
	if cfg.Train.Selection == "best_val" && ptrFile.Best == "" {
		s.Selection = "last"
		s.SelectionNote = "no validation result was recorded; " + note
	}
	if p, err := ReadPretrained(r.dir); err != nil {
		return nil, err
	} else if p != nil {
		s.Pretrained = p.Summary()
	}
	if err := writeAtomic(filepath.Join(r.dir, "summary.json"), s); err != nil {
		return nil, err
	}
	if r.events != nil {
		if err := r.events.Scalars(int64(st.Epoch), map[string]float64{"test/top1": s.TestTop1, "test/top5": s.TestTop5, "test/mean_class_acc": s.TestMeanClassAcc},
			[]string{"test/top1", "test/top5", "test/mean_class_acc"}); err != nil {
			return nil, err
		}
	}
	r.prog.Printf("test (%s, epoch %d): top1 %.4f top5 %.4f mean-class %.4f | %s in %s",
		s.Selection, selEpoch, s.TestTop1, s.TestTop5, s.TestMeanClassAcc, r.dir, fmtDuration(s.WallSeconds))
	return s, nil
}

// ModelParams is the number of trainable model parameters (optimiser slots excluded).
func (tg *Graph) ModelParams() int64 {
	var n int64
	for _, v := range tg.trainables {
		n += ops.NumElements(v.Shape)
	}
	return n
}

// numClasses checks model.num_classes against the dataset.
func numClasses(cfg *Config, d *Data) (int, error) {
	k := len(d.Classes)
	if cfg.Model.NumClasses != 0 && cfg.Model.NumClasses != k {
		return 0, fmt.Errorf("model.num_classes %d: the dataset %s has %d classes (use 0 to take the dataset's)", cfg.Model.NumClasses, d.Source, k)
	}
	if k < 2 {
		return 0, fmt.Errorf("dataset %s has %d classes, want at least 2", d.Source, k)
	}
	return k, nil
}
