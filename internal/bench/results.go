package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
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

// ProfileRun is one per-op profile of a run.
type ProfileRun struct {
	Meta
	Spec   ProfileSpec `json:"spec"`
	Result *Profile    `json:"result,omitempty"`
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
	PeersSkipped    bool      `json:"peers_skipped,omitempty"` // no Python with TensorFlow

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

	// The headline ratios, each from paired rounds (see Ratio): training Go/Keras images per second,
	// inference Go/Python batch-1 milliseconds and batch-16 images per second, the first pairs of
	// the plan (the defaults on both sides, the original SavedModel on both sides); and the
	// optimised export from Go against Python on the original SavedModel, the comparison.
	TrainRatio       Ratio `json:"train_ratio"`
	InferB1Ratio     Ratio `json:"infer_b1_ratio"`
	InferB16Ratio    Ratio `json:"infer_b16_ratio"`
	InferOptB1Ratio  Ratio `json:"infer_optimized_b1_ratio,omitzero"`
	InferOptB16Ratio Ratio `json:"infer_optimized_b16_ratio,omitzero"`

	// Settings are the Go settings of the headline pair and of the variants: the project's defaults.
	Settings Settings `json:"settings"`
	Plan     Plan     `json:"plan"`

	Peak       []PeakRun      `json:"peak_runs"`
	TrainPairs []TrainPairRun `json:"train_pairs"`        // in the plan's order; the first is the headline
	Profiles   []ProfileRun   `json:"profiles,omitempty"` // per-op profiles (full mode)
	Variants   []VariantGroup `json:"variants"`           // the attention variants at Settings, each beside `none`
	InferPairs []InferPairRun `json:"infer_pairs"`        // in the plan's order; the first is the headline
	PipelineGo PipelineRun    `json:"pipeline_go"`
	TFData     TFData         `json:"pipeline_tfdata"`
}

// TrainPairRun is the `none` step and Keras's ResNet50 measured in lockstep under one TrainPair.
type TrainPairRun struct {
	Pair  TrainPair  `json:"pair"`
	Go    GoTrain    `json:"go"`
	Keras KerasTrain `json:"keras"`
	Ratio Ratio      `json:"ratio"` // Go/Keras images per second, per paired step
}

// InferPairRun is Go and Python inference measured in lockstep under one InferPair.
type InferPairRun struct {
	Pair   InferPair `json:"pair"`
	Go     InferRun  `json:"go"`
	Python PyInfer   `json:"python"`
	B1     Ratio     `json:"b1_ratio"`  // Go/Python milliseconds at batch 1 (below 1: Go is faster)
	B16    Ratio     `json:"b16_ratio"` // Go/Python images per second at batch 16 (above 1: Go is faster)
}

// RetiredKeys are keys of results.json that earlier versions of cmd/bench wrote and this one does
// not (the knob search, the single Go/peer pairs, the generated notes); MergeJSON drops them so that
// no stale figure sits beside the new ones.
var RetiredKeys = []string{"train_candidates", "keras_candidates", "selected_by", "keras_xla", "train_go", "train_keras",
	"infer_go", "infer_python", "notes"}

// MergeJSON overlays the top-level keys of update on those of the JSON object old, so that keys
// another tool writes into the same file (serve_* of scripts/bench-serve.sh) survive a run; the
// RetiredKeys go. An empty old is no object.
func MergeJSON(old, update []byte) ([]byte, error) {
	keys := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(old)) > 0 {
		if err := json.Unmarshal(old, &keys); err != nil {
			return nil, fmt.Errorf("merge results: the existing file: %w", err)
		}
	}
	var fresh map[string]json.RawMessage
	if err := json.Unmarshal(update, &fresh); err != nil {
		return nil, fmt.Errorf("merge results: %w", err)
	}
	for _, k := range RetiredKeys {
		delete(keys, k)
	}
	maps.Copy(keys, fresh)
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("merge results: %w", err)
	}
	return append(b, '\n'), nil
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
