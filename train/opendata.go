package train

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/datasets"
	"github.com/finegrain/finegrain/pipeline/synth"
)

// Splits is a dataset's index split three ways.
type Splits struct {
	Classes          []string
	Train, Val, Test []pipeline.Record
	// The split sizes: the lengths of the record lists, or for a synthetic dataset not generated yet,
	// the sizes it will have.
	TrainCount, ValCount, TestCount int
	Generated                       bool // false: a synthetic dataset still to be generated
	Source                          string
}

// testSplitSeed chooses the images of a data.test_fraction split. It is fixed, not train.seed, so that
// every seed of a sweep is tested on the same images.
const testSplitSeed = 20260101

// IndexData reads the index of cfg.Data and carves the validation split (data.val_fraction of each
// class of the training split, chosen by train.seed). A synthetic dataset whose root does not hold the
// complete benchmark of data.synthetic yet is generated there first when generate is true (package
// synth refuses to write into a directory it did not create), or else planned from data.synthetic.
func IndexData(ctx context.Context, cfg *Config, generate bool) (*Splits, error) {
	d := cfg.Data
	src := fmt.Sprintf("%s dataset %s", d.Format, d.Root)
	if d.Format == "synthetic" && !synth.Complete(d.Root, d.SynthConfig()) {
		if !generate {
			return plannedSynthetic(cfg, src), nil
		}
		if err := generateSynthetic(ctx, cfg); err != nil {
			return nil, err
		}
	}
	idx, err := datasets.Open(d.Format, d.Root, datasets.TestSplit(d.TestFraction, testSplitSeed), datasets.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("data.root: %w", err)
	}
	train, val, err := datasets.SplitValidation(idx.Train, d.ValFraction, uint64(cfg.Train.Seed))
	if err != nil {
		return nil, fmt.Errorf("data.val_fraction: %w", err)
	}
	return &Splits{Classes: idx.Classes, Train: train, Val: val, Test: idx.Test,
		TrainCount: len(train), ValCount: len(val), TestCount: len(idx.Test), Generated: true, Source: src}, nil
}

// plannedSynthetic sizes a synthetic dataset from its configuration, splitting validation as
// datasets.SplitValidation does (round(fraction·n) of each class, at most n-1).
func plannedSynthetic(cfg *Config, src string) *Splits {
	s := cfg.Data.Synthetic
	train := min(max(int(math.Round(s.TrainFraction*float64(s.PerClass))), 1), s.PerClass-1)
	val := max(min(int(math.Round(cfg.Data.ValFraction*float64(train))), train-1), 0)
	classes := make([]string, s.Classes)
	for i := range classes {
		classes[i] = fmt.Sprintf("class %d", i+1)
	}
	return &Splits{Classes: classes, TrainCount: s.Classes * (train - val), ValCount: s.Classes * val,
		TestCount: s.Classes * (s.PerClass - train), Source: src + " (to be generated)"}
}

// OpenData opens the dataset of cfg.Data (generating a synthetic one if its root is empty) with the
// input pipeline of the configuration. logf reports what it does.
func OpenData(ctx context.Context, cfg *Config, logf func(string, ...any)) (*Data, error) {
	if cfg.Data.Format == "synthetic" && !synth.Complete(cfg.Data.Root, cfg.Data.SynthConfig()) {
		s := cfg.Data.Synthetic
		logf("generating the synthetic dataset in %s: %d classes × %d images of %d px (difficulty %g, seed %d)",
			cfg.Data.Root, s.Classes, s.PerClass, s.ImageSize, s.Difficulty, s.Seed)
	}
	sp, err := IndexData(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	return &Data{Classes: sp.Classes, Train: sp.Train, Val: sp.Val, Test: sp.Test, Source: sp.Source,
		Loader: NewPipelineLoader(cfg)}, nil
}

// PipelineConfigs are the pipeline settings of cfg for training and for evaluation.
func PipelineConfigs(cfg *Config) (trainCfg, evalCfg pipeline.Config) {
	p := pipeline.DefaultConfig()
	d := cfg.Data
	p.ImageSize = d.ImageSize
	p.ResizeSize = d.ResolvedResize()
	p.RandomResizedCrop = d.TrainCrop == "random_resized"
	p.FlipP = 0
	if d.HFlip {
		p.FlipP = 0.5
	}
	p.RotationDegrees = d.Rotation
	if len(d.ColorJitter) == 4 {
		p.Jitter = pipeline.Jitter{Brightness: d.ColorJitter[0], Contrast: d.ColorJitter[1], Saturation: d.ColorJitter[2], Hue: d.ColorJitter[3]}
	}
	p.Workers = d.Workers
	if p.Workers == 0 {
		p.Workers = runtime.NumCPU()
	}
	p.Seed = uint64(cfg.Train.Seed)
	p.Deterministic = true // the order of a pass depends on (seed, epoch) only: exact resume
	trainCfg, evalCfg = p, p
	trainCfg.BatchSize = cfg.Train.BatchSize
	evalCfg.BatchSize = cfg.Train.EvalBatch()
	return trainCfg, evalCfg
}

// PipelineLoader is the Loader of package pipeline.
type PipelineLoader struct {
	train, eval pipeline.Config
}

// NewPipelineLoader is the loader of cfg's data section.
func NewPipelineLoader(cfg *Config) *PipelineLoader {
	t, e := PipelineConfigs(cfg)
	return &PipelineLoader{train: t, eval: e}
}

// Train starts training epoch over records, dropping the first skip batches.
func (l *PipelineLoader) Train(ctx context.Context, records []pipeline.Record, epoch, skip int) (Batches, error) {
	ld, err := pipeline.NewTrain(ctx, records, l.train, epoch)
	if err != nil {
		return nil, err
	}
	// The pipeline has no random access: decode and drop the batches a resumed epoch already took.
	for range skip {
		b, err := ld.Next(ctx)
		if err != nil {
			ld.Close()
			return nil, fmt.Errorf("skipping to the resumed step: %w", err)
		}
		b.Release()
	}
	return &pipelineBatches{ctx: ctx, l: ld}, nil
}

// Eval starts an in-order pass over records.
func (l *PipelineLoader) Eval(ctx context.Context, records []pipeline.Record) (Batches, error) {
	ld, err := pipeline.NewEval(ctx, records, l.eval)
	if err != nil {
		return nil, err
	}
	return &pipelineBatches{ctx: ctx, l: ld}, nil
}

type pipelineBatches struct {
	ctx context.Context
	l   *pipeline.Loader
}

func (b *pipelineBatches) Next() (*pipeline.Batch, error) { return b.l.Next(b.ctx) }
func (b *pipelineBatches) Close() error                   { return b.l.Close() }

// generateSynthetic writes the benchmark of data.synthetic to data.root.
func generateSynthetic(ctx context.Context, cfg *Config) error {
	if err := synth.Generate(ctx, cfg.Data.Root, cfg.Data.SynthConfig()); err != nil {
		return fmt.Errorf("data.synthetic: generate %s: %w", cfg.Data.Root, err)
	}
	return nil
}
