package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/synth"
)

// SynthFiles writes a small synthetic benchmark (package synth: CUB layout, JPEG quality 90) of
// classes×perClass size×size images to dir and returns the JPEG paths, sorted. A complete benchmark
// already in dir is reused.
func SynthFiles(ctx context.Context, dir string, classes, perClass, size int) ([]string, error) {
	cfg := synth.DefaultConfig()
	cfg.Classes, cfg.PerClass, cfg.Size = classes, perClass, size
	if err := synth.Generate(ctx, dir, cfg); err != nil {
		return nil, fmt.Errorf("benchmark images: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "images", "*", "*.jpg"))
	if err != nil {
		return nil, fmt.Errorf("benchmark images: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("benchmark images: no JPEGs under %s", filepath.Join(dir, "images"))
	}
	slices.Sort(files)
	return files, nil
}

// WriteFileList writes paths to path, one a line.
func WriteFileList(path string, paths []string) error {
	if err := os.WriteFile(path, []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("file list: %w", err)
	}
	return nil
}

// ReadFileList reads a list WriteFileList wrote; an empty list is an error.
func ReadFileList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("file list: %w", err)
	}
	var files []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			files = append(files, line)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("file list %s: no files", path)
	}
	return files, nil
}

// PipelineSpec is an input-pipeline measurement: the train transforms of package pipeline at one
// image size over files (cycled).
type PipelineSpec struct {
	FileList   string `json:"file_list"` // text file of JPEG paths, one a line (WriteFileList)
	ImageSize  int    `json:"image_size"`
	ResizeSize int    `json:"resize_size"`
	Batch      int    `json:"batch"`
	Workers    int    `json:"workers"`
	Images     int    `json:"images"` // timed images, after one warm-up batch
}

// Config is the pipeline configuration of the spec: pipeline.DefaultConfig (Resize + RandomCrop,
// flip, rotation ±15°, ColorJitter(0.4, 0.4, 0.4, 0.1)) at the spec's sizes, batch and workers.
func (s PipelineSpec) Config() pipeline.Config {
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize, cfg.BatchSize, cfg.Workers = s.ImageSize, s.ResizeSize, s.Batch, s.Workers
	return cfg
}

// PipelineResult is what a PipelineSpec measured.
type PipelineResult struct {
	Spec         PipelineSpec `json:"spec"`
	JPEGDecoder  string       `json:"jpeg_decoder"`
	Files        int          `json:"files"`
	Images       int          `json:"images"`
	Seconds      float64      `json:"seconds"`
	ImagesPerSec float64      `json:"images_per_s"`
}

// PipelineGo runs one epoch of the train pipeline over spec.Images images plus a warm-up batch and
// times everything after the warm-up batch, as bench_tfdata.py does.
func PipelineGo(ctx context.Context, spec PipelineSpec) (*PipelineResult, error) {
	files, err := ReadFileList(spec.FileList)
	if err != nil {
		return nil, fmt.Errorf("pipeline benchmark: %w", err)
	}
	cfg := spec.Config()
	batches := max(1, spec.Images/cfg.BatchSize)
	recs := make([]pipeline.Record, (batches+1)*cfg.BatchSize)
	for i := range recs {
		recs[i] = pipeline.Record{Path: files[i%len(files)], Label: i % 10}
	}
	l, err := pipeline.NewTrain(ctx, recs, cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("pipeline benchmark: %w", err)
	}
	defer l.Close()
	res := &PipelineResult{Spec: spec, JPEGDecoder: pipeline.JPEGDecoder(), Files: len(files)}
	var start time.Time
	for i := 0; ; i++ {
		b, err := l.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline benchmark: %w", err)
		}
		if i == 0 {
			start = time.Now()
		} else {
			res.Images += b.Len()
		}
		b.Release()
	}
	if n := l.Skipped(); n > 0 {
		return nil, fmt.Errorf("pipeline benchmark: %d images could not be decoded", n)
	}
	res.Seconds = time.Since(start).Seconds()
	res.ImagesPerSec = float64(res.Images) / res.Seconds
	return res, nil
}
