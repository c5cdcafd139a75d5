package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Meta is what every measurement records besides its numbers: the machine's load around it and how
// long its process took. A failed measurement keeps its error; a skipped one says why.
type Meta struct {
	What        string  `json:"what"`
	LoadBefore  float64 `json:"load_before"` // 1-minute load average
	LoadAfter   float64 `json:"load_after"`
	WallSeconds float64 `json:"wall_seconds"` // the whole process: start-up, build, warm-up, timing
	Error       string  `json:"error,omitempty"`
	Skipped     string  `json:"skipped,omitempty"`
}

// OK reports whether the measurement ran and succeeded.
func (m Meta) OK() bool { return m.Error == "" && m.Skipped == "" }

// GoTrain is a Go training-step measurement.
type GoTrain struct {
	Meta
	Settings Settings     `json:"settings"`
	Result   *TrainResult `json:"result,omitempty"`
}

// ImagesPerSec is the measured rate; 0 when the measurement did not succeed.
func (g GoTrain) ImagesPerSec() float64 {
	if !g.OK() || g.Result == nil {
		return 0
	}
	return g.Result.ImagesPerSec
}

// VariantGroup is one process timing the `none` step and attention variants round-robin
// (TrainGroup), so that each variant's overhead is measured against a `none` step under the same load.
type VariantGroup struct {
	Meta
	Settings  Settings       `json:"settings"`
	Attention []string       `json:"attention"`         // `none` first, then the variants
	Results   []*TrainResult `json:"results,omitempty"` // in Attention's order
}

// Overheads returns, for each variant of a successful group, its extra step time against the group's
// `none` step: by the median wall-clock step and by the CPU time per step.
func (g VariantGroup) Overheads() (wall, cpu []float64) {
	if !g.OK() || len(g.Results) < 2 {
		return nil, nil
	}
	none := g.Results[0]
	for _, r := range g.Results[1:] {
		wall = append(wall, r.Step.Median()/none.Step.Median()-1)
		c := 0.0
		if none.Step.CPUPerRun() > 0 {
			c = r.Step.CPUPerRun()/none.Step.CPUPerRun() - 1
		}
		cpu = append(cpu, c)
	}
	return wall, cpu
}

// KerasTrain is the Keras peer's output (bench/keras_train.py).
type KerasTrain struct {
	Meta
	ImagesPerSec     float64 `json:"images_per_s"`
	Step             Timing  `json:"step"`
	FirstStepSeconds float64 `json:"first_step_seconds"`
	BuildSeconds     float64 `json:"build_seconds"`
	LastLoss         float64 `json:"last_loss"`
	Params           int64   `json:"params"`
	ForwardMACs      int64   `json:"forward_macs_per_image"`
	TensorFlow       string  `json:"tensorflow"`
	Keras            string  `json:"keras"`
	XLA              bool    `json:"xla"`
	IntraOpThreads   int     `json:"intra_op_threads"`
	InterOpThreads   int     `json:"inter_op_threads"`
	// Filled in by the runner from the counted multiply-adds of the Keras model.
	GFLOPs             float64 `json:"gflops"`
	GFLOPsPerCPUSecond float64 `json:"gflops_per_cpu_second"`
}

// PeakRun is a peak measurement.
type PeakRun struct {
	Meta
	Result *PeakResult `json:"result,omitempty"`
}

// InferRun is the Go inference measurement.
type InferRun struct {
	Meta
	Result *InferResult `json:"result,omitempty"`
}

// PyInferBatch is one batch size of bench/infer_savedmodel.py.
type PyInferBatch struct {
	Batch        int     `json:"batch"`
	MedianMS     float64 `json:"median_ms"`    // numpy form
	ImagesPerSec float64 `json:"images_per_s"` // numpy form
	Numpy        Timing  `json:"numpy"`
	Tensor       Timing  `json:"tensor"`
	Signature    Timing  `json:"signature"`
}

// PyInfer is the Python inference peer's output.
type PyInfer struct {
	Meta
	LoadSeconds float64        `json:"load_seconds"`
	TensorFlow  string         `json:"tensorflow"`
	Batches     []PyInferBatch `json:"batches"`
}

// PipelineRun is the Go input-pipeline measurement.
type PipelineRun struct {
	Meta
	Result *PipelineResult `json:"result,omitempty"`
}

// TFData is the tf.data peer's output (pipeline/bench_tfdata.py).
type TFData struct {
	Meta
	Workers      int     `json:"workers"`
	Images       int     `json:"images"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_s"`
	IntraOp      int     `json:"intra_op"`
	TFVersion    string  `json:"tf_version"`
}

// Results is one benchmark run: the headline numbers under the names results.json promises, the
// settings they were measured with, and every measurement behind them.
type Results struct {
	Mode            string    `json:"mode"`
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"duration_seconds"`
	SetupSeconds    float64   `json:"setup_seconds"` // before the run, counted in its budget (the build)
	Command         string    `json:"command"`
	Machine         Machine   `json:"machine"`
	PythonTF        string    `json:"python_tensorflow"`
	KerasVersion    string    `json:"keras_version"`

	TrainImgSGo        float64 `json:"train_img_s_go"`
	TrainImgSKeras     float64 `json:"train_img_s_keras"`
	InferB1MSGo        float64 `json:"infer_b1_ms_go"`
	InferB1MSPython    float64 `json:"infer_b1_ms_python"`
	InferB16ImgSGo     float64 `json:"infer_b16_img_s_go"`
	InferB16ImgSPython float64 `json:"infer_b16_img_s_python"`
	PipelineImgSGo     float64 `json:"pipeline_img_s_go"`
	PipelineImgSTFData float64 `json:"pipeline_img_s_tfdata"`
	StepGFLOPs         float64 `json:"step_gflops"`
	PeakGFLOPs         float64 `json:"peak_gflops"`
	PeakFraction       float64 `json:"peak_fraction"` // step_gflops / peak_gflops
	// The same ratio from CPU time, which the machine's load hardly changes.
	StepGFLOPsPerCPUSecond float64 `json:"step_gflops_per_cpu_second"`
	PeakGFLOPsPerCPUSecond float64 `json:"peak_gflops_per_cpu_second"`
	PeakFractionCPU        float64 `json:"peak_fraction_cpu"`

	// Settings are the ones every headline number was measured with (the fastest candidate).
	Settings   Settings `json:"settings"`
	KerasXLA   bool     `json:"keras_xla"`   // the Keras peer's jit_compile
	SelectedBy string   `json:"selected_by"` // how Settings and KerasXLA were chosen in the knob search
	Plan       Plan     `json:"plan"`

	Peak []PeakRun `json:"peak_runs"`
	// The knob search (full mode): the `none` step under each candidate setting and Keras with each
	// jit_compile value, at the plan's knob size.
	Candidates      []GoTrain      `json:"train_candidates,omitempty"`
	KerasCandidates []KerasTrain   `json:"keras_candidates,omitempty"`
	Train           GoTrain        `json:"train_go"`    // the `none` step at Settings
	Keras           KerasTrain     `json:"train_keras"` // Keras at the same threads and its chosen jit_compile
	Variants        []VariantGroup `json:"variants"`    // the attention variants at Settings, each beside `none`
	InferGo         InferRun       `json:"infer_go"`
	InferPython     PyInfer        `json:"infer_python"`
	PipelineGo      PipelineRun    `json:"pipeline_go"`
	TFData          TFData         `json:"pipeline_tfdata"`
	Notes           []string       `json:"notes"`

	// LastFull is the last full run (bench/results-full.json), summarised in a quick run's report.
	LastFull *Results `json:"-"`
}

// ReadResults reads a results.json that JSON wrote.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &r, nil
}

// WriteFile writes data to path, creating its directory.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// JSON is the results as indented JSON.
func (r *Results) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return append(b, '\n'), nil
}
