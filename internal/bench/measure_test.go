package bench

import (
	"context"
	"math"
	"path/filepath"
	"testing"
)

// tiny is the smallest training measurement: a ResNet-18 on 32×32 images.
func tiny(attention string) TrainSpec {
	return TrainSpec{Attention: attention, Depth: 18, ImageSize: 32, Batch: 2, Classes: 3, Warmup: 0, Steps: 2,
		Settings: Settings{IntraOpThreads: 1, InterOpThreads: 1}}
}

func TestTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three ResNet-18 training graphs")
	}
	ctx := context.Background()
	single, err := Train(ctx, tiny("none"))
	if err != nil {
		t.Fatal(err)
	}
	group, err := TrainGroup(ctx, []TrainSpec{tiny("none"), tiny("csca")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(group) != 2 || group[0].Spec.Attention != "none" || group[1].Spec.Attention != "csca" {
		t.Fatalf("TrainGroup returned %d results, want none then csca", len(group))
	}
	if group[1].ForwardMACs <= group[0].ForwardMACs || group[1].Params <= group[0].Params {
		t.Errorf("csca counts %d MACs and %d parameters, none %d and %d: want more", group[1].ForwardMACs, group[1].Params, group[0].ForwardMACs, group[0].Params)
	}
	for _, r := range []*TrainResult{single, group[0], group[1]} {
		t.Run(r.Spec.Attention, func(t *testing.T) {
			spec := r.Spec
			if len(r.Step.Seconds) != spec.Steps || r.Step.CPUSeconds <= 0 || r.FirstStepSeconds <= 0 {
				t.Errorf("timings %+v, first step %v: want %d positive runs", r.Step, r.FirstStepSeconds, spec.Steps)
			}
			if math.IsNaN(r.Loss) || r.Loss <= 0 {
				t.Errorf("loss %v, want a positive cross-entropy", r.Loss)
			}
			// The counted work is the nets.Stats count under the stated convention.
			if want := TrainStepFLOPs(r.ForwardMACs, spec.Batch) / 1e9; r.StepGFLOP != want || r.ForwardMACs <= 0 {
				t.Errorf("step GFLOP %v from %d MACs, want %v", r.StepGFLOP, r.ForwardMACs, want)
			}
			if got, want := r.ImagesPerSec, float64(spec.Batch)/r.Step.Median(); math.Abs(got-want) > 1e-9*want {
				t.Errorf("images/s %v, want %v", got, want)
			}
		})
	}
	if _, err := TrainGroup(ctx, []TrainSpec{tiny("none"), {Attention: "ca", Depth: 18, ImageSize: 32, Batch: 2, Classes: 3, Steps: 3}}, nil); err == nil {
		t.Error("TrainGroup accepted specs with different step counts")
	}
	bad := tiny("none")
	bad.ImageSize = 8
	if _, err := Train(ctx, bad); err == nil {
		t.Error("Train accepted 8×8 images")
	}
	bad = tiny("cbam")
	if _, err := Train(ctx, bad); err == nil {
		t.Error("Train accepted an unknown attention variant")
	}
}

func TestPeak(t *testing.T) {
	r, err := Peak(context.Background(), PeakSpec{N: 64, Runs: 3, Settings: Settings{IntraOpThreads: 1, InterOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Run.Seconds) != 3 || r.GFLOPs <= 0 || r.GFLOPs < r.MedianGFLOPs {
		t.Errorf("peak %+v: want 3 runs and best >= median", r)
	}
	if _, err := Peak(context.Background(), PeakSpec{N: 0, Runs: 1}); err == nil {
		t.Error("Peak accepted n = 0")
	}
}

func TestInferGo(t *testing.T) {
	if testing.Short() {
		t.Skip("exports and loads a ResNet-18")
	}
	ctx := context.Background()
	spec := InferSpec{Dir: filepath.Join(t.TempDir(), "sub", "model"), Attention: "none", Depth: 18, ImageSize: 32, Classes: 3,
		Batches: []int{1, 2}, Iters: 2, Settings: Settings{IntraOpThreads: 1, InterOpThreads: 1}}
	if err := ExportModel(ctx, spec); err != nil {
		t.Fatal(err)
	}
	r, err := InferGo(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Batches) != 2 {
		t.Fatalf("%d batch sizes timed, want 2", len(r.Batches))
	}
	for i, b := range r.Batches {
		if b.Batch != spec.Batches[i] || len(b.Predict.Seconds) != 2 || len(b.Tensor.Seconds) != 2 || b.MedianMS <= 0 || b.ImagesPerSec <= 0 {
			t.Errorf("batch %d: %+v", spec.Batches[i], b)
		}
	}
	spec.Iters = 0
	if _, err := InferGo(ctx, spec, nil); err == nil {
		t.Error("InferGo accepted 0 iterations")
	}
}

func TestPipelineGo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files, err := SynthFiles(ctx, filepath.Join(dir, "images"), 2, 3, 48)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("%d synthetic files, want 6", len(files))
	}
	spec := PipelineSpec{FileList: filepath.Join(dir, "files.txt"), ImageSize: 32, ResizeSize: 36, Batch: 2, Workers: 2, Images: 8}
	if err := WriteFileList(spec.FileList, files); err != nil {
		t.Fatal(err)
	}
	r, err := PipelineGo(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Images != spec.Images || r.Files != len(files) || r.ImagesPerSec <= 0 || r.JPEGDecoder == "" {
		t.Errorf("pipeline result %+v: want %d images from %d files", r, spec.Images, len(files))
	}
	if err := WriteFileList(spec.FileList, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := PipelineGo(ctx, spec); err == nil {
		t.Error("PipelineGo ran on an empty file list")
	}
}
