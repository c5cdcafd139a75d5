package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/pipeline"
)

// TestLossScalingSkipsNonFiniteSteps makes the gradients of a mixed-precision step non-finite (a NaN
// pixel stands in for a float16 overflow): the step must report it and leave every variable and
// optimiser slot as it was; a clean batch then applies an update.
func TestLossScalingSkipsNonFiniteSteps(t *testing.T) {
	cfg, tg, sess, snapshot := mixedPrecisionRun(t)
	data := tinyData(cfg)
	it, _ := data.Loader.Train(context.Background(), data.Train, 1, 0)
	b, _ := it.Next()
	clean := b.Images[0]
	step := func(scale float32, poison bool) bool {
		feeds := map[tf.Output]*tf.Tensor{}
		b.Images[0] = clean
		if poison {
			b.Images[0] = float32(math.NaN())
		}
		img, _ := imageTensor(b, cfg.Data.ImageSize)
		lab, _ := tf.NewTensor(b.Labels)
		sc, _ := tf.NewTensor(scale)
		feeds[tg.Images], feeds[tg.Labels], feeds[tg.lossScale] = img, lab, sc
		if err := tg.Opt.feeds(feeds, 0.01, 1, 1, 0.9, 0.999); err != nil {
			t.Fatal(err)
		}
		out, err := sess.Run(feeds, []tf.Output{tg.Opt.Finite}, []*tf.Operation{tg.Opt.Step})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().(bool)
	}
	before := snapshot()
	if step(1024, true) {
		t.Fatal("a NaN input gave finite gradients")
	}
	after := snapshot()
	for i := range before {
		for j := range before[i] {
			if before[i][j] != after[i][j] {
				t.Fatalf("a skipped step changed variable %d", i)
			}
		}
	}
	if !step(1024, false) {
		t.Fatal("a clean batch with loss scale 1024 gave non-finite gradients")
	}
	changed := false
	for i, v := range snapshot() {
		for j := range v {
			changed = changed || v[j] != before[i][j]
		}
	}
	if !changed {
		t.Fatal("a finite step changed nothing")
	}
}

// poisonLoader hands out a NaN image from training step poisonAt on.
type poisonLoader struct {
	Loader
	poisonAt int
	seen     *int
}

func (p poisonLoader) Train(ctx context.Context, recs []pipeline.Record, epoch, skip int) (Batches, error) {
	it, err := p.Loader.Train(ctx, recs, epoch, skip)
	return poisonBatches{it, p}, err
}

type poisonBatches struct {
	Batches
	p poisonLoader
}

func (b poisonBatches) Next() (*pipeline.Batch, error) {
	batch, err := b.Batches.Next()
	if err == nil {
		*b.p.seen++
		if *b.p.seen >= b.p.poisonAt {
			batch.Images[0] = float32(math.NaN())
		}
	}
	return batch, err
}

// TestNonFiniteLossStopsAndKeepsCheckpoint: a NaN loss stops the run with a message naming the last good
// checkpoint, which stays intact and resumable.
func TestNonFiniteLossStopsAndKeepsCheckpoint(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	dir := filepath.Join(t.TempDir(), "run")
	data := tinyData(cfg)
	spe := len(data.Train) / cfg.Train.BatchSize
	seen := 0
	data.Loader = poisonLoader{Loader: data.Loader, poisonAt: spe + 3, seen: &seen}
	_, err := Run(context.Background(), cfg, Options{RunDir: dir, Build: tinyNet, Data: data, Log: &strings.Builder{}})
	var nf *NonFiniteLoss
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want *NonFiniteLoss", err)
	}
	if nf.Step != int64(spe+3) || nf.Epoch != 2 || !strings.Contains(err.Error(), "-resume") {
		t.Errorf("error %q: want step %d of epoch 2 and a resume hint", err, spe+3)
	}
	ck, _, err := ResolveCheckpoint(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if ck != nf.Checkpoint {
		t.Errorf("latest checkpoint %s, error names %s", ck, nf.Checkpoint)
	}
	st, err := ReadState(ck)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.Step != int64(spe) {
		t.Errorf("last good checkpoint at epoch %d step %d, want the end of epoch 1 (step %d)", st.Epoch, st.Step, spe)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		t.Error("a failed run wrote summary.json")
	}
	// The checkpoint resumes (with clean data) to the end.
	if _, err := Run(context.Background(), cfg, Options{RunDir: dir, Build: tinyNet, Data: tinyData(cfg), Resume: true, Log: &strings.Builder{}}); err != nil {
		t.Fatal(err)
	}
}
