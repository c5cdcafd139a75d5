package train

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
)

// tinyNet is a two-convolution FCN-style classifier (conv-BN-ReLU ×2, dropout, 1×1 conv to K maps,
// spatial mean): small enough for unit tests of the training loop, with batch norm updates, a random
// layer and class activation maps like the real models.
func tinyNet(s *ops.Scope, images tf.Output, cfg nets.Config) (nets.Outputs, error) {
	x := op.Div(s.Op(), images, s.Const(255))
	x = ops.ReLU(s, ops.BatchNorm(s.Sub("bn1"), ops.Conv2D(s.Sub("conv1"), x, 8, 3, 2, 1, false), ops.DefaultBatchNorm()))
	x = ops.ReLU(s, ops.BatchNorm(s.Sub("bn2"), ops.Conv2D(s.Sub("conv2"), x, 16, 3, 2, 1, false), ops.DefaultBatchNorm()))
	x = ops.Dropout(s.Sub("drop"), x, cfg.Dropout)
	cam := ops.Conv2D(s.Sub("fc"), x, cfg.NumClasses, 1, 1, 0, true)
	logits := ops.GlobalAvgPool(s, cam)
	return nets.Outputs{Logits: logits, CAM: cam, Features: x}, nil
}

// memData is a dataset generated in memory: class c is a square of a class-specific colour (red, green,
// blue, white) at a random place on
// noise, so a small network learns it in a few epochs.
func memData(classes, trainPer, valPer, testPer, size int, seed uint64) *Data {
	d := &Data{Source: "memory", Loader: &memLoader{size: size, seed: seed, classes: classes}}
	for c := range classes {
		d.Classes = append(d.Classes, fmt.Sprintf("class%d", c))
	}
	add := func(list *[]pipeline.Record, per int, split string) {
		for i := range per * classes {
			*list = append(*list, pipeline.Record{Path: fmt.Sprintf("mem:%s:%d", split, i), Label: i % classes})
		}
	}
	add(&d.Train, trainPer, "train")
	add(&d.Val, valPer, "val")
	add(&d.Test, testPer, "test")
	return d
}

type memLoader struct {
	size, classes int
	seed          uint64
	batch, eval   int
}

func (l *memLoader) image(r pipeline.Record, rng *rand.Rand) []float32 {
	s := l.size
	px := make([]float32, s*s*3)
	for i := range px {
		px[i] = float32(rng.IntN(128))
	}
	q := s / 3
	cx, cy := rng.IntN(s-q), rng.IntN(s-q)
	for y := cy; y < cy+q; y++ {
		for x := cx; x < cx+q; x++ {
			for ch := range 3 {
				if r.Label%4 == 3 || ch == r.Label%3 {
					px[(y*s+x)*3+ch] = 255
				}
			}
		}
	}
	return px
}

func hashPath(p string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(p); i++ {
		h = (h ^ uint64(p[i])) * 1099511628211
	}
	return h
}

func (l *memLoader) Train(ctx context.Context, recs []pipeline.Record, epoch, skip int) (Batches, error) {
	perm := rand.New(rand.NewPCG(l.seed, uint64(epoch))).Perm(len(recs))
	bs := l.batch
	n := len(recs) / bs
	return &memBatches{l: l, next: skip, n: n, bs: bs, get: func(i int) (pipeline.Record, *rand.Rand) {
		r := recs[perm[i]]
		return r, rand.New(rand.NewPCG(l.seed^hashPath(r.Path), uint64(epoch)))
	}}, nil
}

func (l *memLoader) Eval(ctx context.Context, recs []pipeline.Record) (Batches, error) {
	bs := l.eval
	return &memBatches{l: l, n: (len(recs) + bs - 1) / bs, bs: bs, total: len(recs), get: func(i int) (pipeline.Record, *rand.Rand) {
		r := recs[i]
		return r, rand.New(rand.NewPCG(l.seed^hashPath(r.Path), 0))
	}}, nil
}

type memBatches struct {
	l           *memLoader
	next, n, bs int
	total       int // eval: number of records (the last batch may be short)
	get         func(int) (pipeline.Record, *rand.Rand)
}

func (b *memBatches) Next() (*pipeline.Batch, error) {
	if b.next >= b.n {
		return nil, io.EOF
	}
	out := &pipeline.Batch{}
	for i := b.next * b.bs; i < (b.next+1)*b.bs; i++ {
		if b.total > 0 && i >= b.total {
			break
		}
		r, rng := b.get(i)
		out.Images = append(out.Images, b.l.image(r, rng)...)
		out.Labels = append(out.Labels, int32(r.Label))
	}
	b.next++
	out.Shape = [4]int{len(out.Labels), b.l.size, b.l.size, 3}
	return out, nil
}

func (b *memBatches) Close() error { return nil }

// tinyConfig is a configuration for tinyNet on memData.
func tinyConfig(root string) *Config {
	cfg := Default()
	cfg.Data.Root = root
	cfg.Data.Format = "folder"
	cfg.Data.ImageSize = 32
	cfg.Data.ResizeSize = 0
	cfg.Model.Attention = "fcn"
	cfg.Model.Depth = 18
	cfg.Model.Dropout = 0.1
	cfg.Train.Epochs = 3
	cfg.Train.BatchSize = 8
	cfg.Train.LR = 0.05
	cfg.Train.WarmupEpochs = 0.5
	cfg.Train.Seed = 3
	cfg.Train.Deterministic = true
	cfg.Runtime.IntraOpThreads = 2
	cfg.Log.CAMImages = 2
	return cfg
}

func tinyData(cfg *Config) *Data {
	d := memData(4, 12, 4, 5, cfg.Data.ImageSize, uint64(cfg.Train.Seed))
	l := d.Loader.(*memLoader)
	l.batch, l.eval = cfg.Train.BatchSize, cfg.Train.EvalBatch()
	return d
}

// mixedPrecisionRun builds tinyConfig's AdamW training graph with mixed precision and no dropout, opens
// and initialises its session (closed when the test ends); snapshot reads every trainable variable and
// optimiser slot, to show whether a step changed them.
func mixedPrecisionRun(t *testing.T) (cfg *Config, tg *Graph, sess *tf.Session, snapshot func() [][]float32) {
	t.Helper()
	cfg = tinyConfig(t.TempDir())
	cfg.Train.MixedPrecision = true
	cfg.Train.Optimizer = "adamw"
	cfg.Model.Dropout = 0
	tg, err := BuildGraph(cfg, 4, tinyNet)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.AddOptimizer(cfg.Train, nil); err != nil {
		t.Fatal(err)
	}
	sess, err = NewSession(cfg, tg.G.TF())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	if _, err := sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
		t.Fatal(err)
	}
	var vars []tf.Output
	for _, v := range tg.trainables {
		vars = append(vars, v.Value)
	}
	for _, v := range tg.Opt.Slots {
		vars = append(vars, v.Value)
	}
	snapshot = func() [][]float32 {
		out, err := sess.Run(nil, vars, nil)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([][]float32, len(out))
		for i, o := range out {
			vals[i] = flat32(o)
		}
		return vals
	}
	return cfg, tg, sess, snapshot
}
