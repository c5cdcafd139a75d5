package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/finegrain/finegrain/internal/atomicfile"
)

// EpochMetrics is one line of RUN/metrics.jsonl and one row of RUN/metrics.csv. Accuracies are fractions
// in 0..1; validation fields are absent without a validation split, test fields only on the final line.
type EpochMetrics struct {
	Epoch           int      `json:"epoch"`
	Step            int64    `json:"step"`
	LR              float64  `json:"lr"`
	TrainLoss       float64  `json:"train_loss"`
	TrainTop1       float64  `json:"train_top1"`
	ValTop1         *float64 `json:"val_top1,omitempty"`
	ValTop5         *float64 `json:"val_top5,omitempty"`
	ValMeanClassAcc *float64 `json:"val_mean_class_acc,omitempty"`
	ValLoss         *float64 `json:"val_loss,omitempty"`
	TestTop1        *float64 `json:"test_top1,omitempty"`
	TestTop5        *float64 `json:"test_top5,omitempty"`
	TestMeanClass   *float64 `json:"test_mean_class_acc,omitempty"`
	ImagesPerSecond float64  `json:"images_per_second"`
	EpochSeconds    float64  `json:"epoch_seconds"`
	WallSeconds     float64  `json:"wall_seconds"`
	GradNorm        float64  `json:"grad_norm"`
	LossScale       float64  `json:"loss_scale,omitempty"`
	// ScheduleChange is set on the first epoch a resumed session ends when its learning-rate schedule
	// differs from the one the checkpoint was trained with (train.epochs extended, for example).
	ScheduleChange *ScheduleChange `json:"schedule_change,omitempty"`
}

var csvColumns = []string{"epoch", "step", "lr", "train_loss", "train_top1", "val_top1", "val_top5", "val_mean_class_acc",
	"val_loss", "test_top1", "test_top5", "test_mean_class_acc", "images_per_second", "epoch_seconds", "wall_seconds", "grad_norm", "loss_scale"}

func (m EpochMetrics) csvRow() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	p := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	ls := ""
	if m.LossScale != 0 {
		ls = f(m.LossScale)
	}
	return []string{strconv.Itoa(m.Epoch), strconv.FormatInt(m.Step, 10), f(m.LR), f(m.TrainLoss), f(m.TrainTop1),
		p(m.ValTop1), p(m.ValTop5), p(m.ValMeanClassAcc), p(m.ValLoss), p(m.TestTop1), p(m.TestTop5), p(m.TestMeanClass),
		f(m.ImagesPerSecond), f(m.EpochSeconds), f(m.WallSeconds), f(m.GradNorm), ls}
}

// writeMetrics writes the whole history as RUN/metrics.jsonl and RUN/metrics.csv (atomically, so a
// resumed run starts from exactly the epochs of its checkpoint).
func writeMetrics(runDir string, history []EpochMetrics) error {
	var jl bytes.Buffer
	var cb bytes.Buffer
	cw := csv.NewWriter(&cb)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	for _, m := range history {
		line, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		jl.Write(line)
		jl.WriteByte('\n')
		if err := cw.Write(m.csvRow()); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	cw.Flush()
	if err := atomicfile.Write(filepath.Join(runDir, "metrics.jsonl"), jl.Bytes()); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(runDir, "metrics.csv"), cb.Bytes())
}

// Evaluation accumulates predictions over a dataset split.
type Evaluation struct {
	Classes   int
	Confusion [][]int64 // [true][predicted]
	Top1      int64
	Top5      int64
	Count     int64 // images evaluated
	Skipped   int64 // images of the split that could not be read
	LossSum   float64
}

// NewEvaluation starts an empty evaluation of a classes-way classifier.
func NewEvaluation(classes int) *Evaluation {
	c := make([][]int64, classes)
	for i := range c {
		c[i] = make([]int64, classes)
	}
	return &Evaluation{Classes: classes, Confusion: c}
}

// Add scores one batch of logits (row-major [n, Classes]) against labels.
func (e *Evaluation) Add(logits []float32, labels []int32) {
	k := e.Classes
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		// rank of the true class: the number of classes scored higher (ties count against it)
		rank, best := 0, 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
			if j != int(y) && v >= row[y] {
				rank++
			}
		}
		if rank == 0 {
			e.Top1++
		}
		if rank < 5 {
			e.Top5++
		}
		e.Confusion[y][best]++
		e.Count++
		e.LossSum += crossEntropy(row, int(y))
	}
}

func crossEntropy(row []float32, y int) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s) - float64(row[y])
}

// Top1Acc is the fraction of images whose highest-scoring class is right.
func (e *Evaluation) Top1Acc() float64 { return frac(e.Top1, e.Count) }

// Top5Acc is the fraction of images whose class is among the five highest-scoring ones.
func (e *Evaluation) Top5Acc() float64 { return frac(e.Top5, e.Count) }

// Loss is the mean cross-entropy (without label smoothing).
func (e *Evaluation) Loss() float64 {
	if e.Count == 0 {
		return math.NaN()
	}
	return e.LossSum / float64(e.Count)
}

// PerClass is the accuracy of each class (NaN for a class without images).
func (e *Evaluation) PerClass() []float64 {
	out := make([]float64, e.Classes)
	for c, row := range e.Confusion {
		var n int64
		for _, v := range row {
			n += v
		}
		out[c] = math.NaN()
		if n > 0 {
			out[c] = float64(row[c]) / float64(n)
		}
	}
	return out
}

// MeanClassAcc is the mean of the per-class accuracies over the classes that have images.
func (e *Evaluation) MeanClassAcc() float64 {
	s, n := 0.0, 0
	for _, a := range e.PerClass() {
		if !math.IsNaN(a) {
			s += a
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// WriteConfusionCSV writes the confusion matrix with class names: a header row of predicted classes,
// then one row per true class.
func (e *Evaluation) WriteConfusionCSV(path string, classes []string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	name := func(i int) string {
		if i < len(classes) {
			return classes[i]
		}
		return strconv.Itoa(i)
	}
	head := []string{"true\\predicted"}
	for j := range e.Classes {
		head = append(head, name(j))
	}
	w.Write(head)
	for i, row := range e.Confusion {
		rec := []string{name(i)}
		for _, v := range row {
			rec = append(rec, strconv.FormatInt(v, 10))
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, b.Bytes())
}

// WritePerClassCSV writes class, images, accuracy rows sorted by class id.
func (e *Evaluation) WritePerClassCSV(path string, classes []string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"class_id", "class", "images", "accuracy"})
	acc := e.PerClass()
	ids := make([]int, e.Classes)
	for i := range ids {
		ids[i] = i
	}
	sort.Ints(ids)
	for _, i := range ids {
		var n int64
		for _, v := range e.Confusion[i] {
			n += v
		}
		name := strconv.Itoa(i)
		if i < len(classes) {
			name = classes[i]
		}
		a := ""
		if !math.IsNaN(acc[i]) {
			a = strconv.FormatFloat(acc[i], 'f', 6, 64)
		}
		w.Write([]string{strconv.Itoa(i), name, strconv.FormatInt(n, 10), a})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, b.Bytes())
}

func frac(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func ptr(v float64) *float64 { return &v }
