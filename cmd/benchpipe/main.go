// Command benchpipe measures the input pipeline: decoded and augmented images per second with the
// train transforms at 448×448 (package pipeline's defaults), for each worker count, and the same
// work through Python's tf.data (pipeline/bench_tfdata.py, run with the project's .venv) on the
// same files in the same invocation, and prints the ratio.
//
// Usage:
//
//	go run ./cmd/benchpipe [-n 512] [-workers 1,2] [-dir jpegs/] [-json]
//	go run -tags noturbojpeg ./cmd/benchpipe   # decode JPEGs with Go's image/jpeg instead of libjpeg-turbo
//
// Without -dir it writes 64 synthetic 500×375 JPEGs (quality 90, 4:2:0) to a temporary directory.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/pipeline"
)

// rate is a measured throughput: images per second of wall-clock time and per second of CPU time
// (user + system, all threads of the process). On a shared or busy machine the second is the
// steadier measure, and it is what a pipeline costs a trainer running on the same cores.
type rate struct {
	PerSec    float64 `json:"images_per_s"`
	PerCPUSec float64 `json:"images_per_cpu_s"`
}

// result is one row of the report.
type result struct {
	Workers     int     `json:"workers"`
	Images      int     `json:"images"`
	Go          rate    `json:"go"`
	TF          *rate   `json:"tfdata,omitempty"`
	Ratio       float64 `json:"go_over_tfdata,omitempty"`         // wall-clock rates
	CPURatio    float64 `json:"go_over_tfdata_per_cpu,omitempty"` // CPU-time rates
	JPEGDecoder string  `json:"jpeg_decoder"`
	TFError     string  `json:"tfdata_error,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchpipe:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 512, "images to time per measurement (after one warm-up batch)")
	workersFlag := flag.String("workers", "1,2", "comma-separated worker counts")
	dir := flag.String("dir", "", "directory of JPEGs to read (default: generate 64 synthetic ones)")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	python := flag.String("python", "", "python with TensorFlow (default: <repo>/.venv/bin/python); \"none\" skips tf.data")
	intraOp := flag.Int("intra-op", 0, "tf.data max_intra_op_parallelism (0: TensorFlow's default)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: benchpipe [-n N] [-workers 1,2] [-dir JPEGS] [-json] [flags]

Measures the input pipeline's images per second (train transforms at 448×448) against tf.data's.

For each worker count it times the Go pipeline and the same work through Python's tf.data
(pipeline/bench_tfdata.py with the project's .venv) on the same files, and prints the ratio, per second
of wall-clock time and per second of CPU time. Without -dir it writes 64 synthetic 500×375 JPEGs.

Examples:
  go run ./cmd/benchpipe
  go run ./cmd/benchpipe -n 1024 -workers 1,2,4 -json
  go run ./cmd/benchpipe -dir data/CUB_200_2011/images/001.Black_footed_Albatross -python none
  go run -tags noturbojpeg ./cmd/benchpipe

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse() // -h prints the usage and exits 0, a bad flag exits 2
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "benchpipe: unexpected arguments %q (see -h)\n", flag.Args())
		os.Exit(2)
	}

	workers, err := parseInts(*workersFlag)
	if err != nil {
		return fmt.Errorf("-workers %q: %w", *workersFlag, err)
	}
	root, err := pyref.RepoRoot() // where .venv and pipeline/bench_tfdata.py are
	if err != nil {
		return fmt.Errorf("run benchpipe inside the repository: %w", err)
	}
	files, cleanup, err := inputFiles(*dir)
	if err != nil {
		return err
	}
	defer cleanup()
	py := *python
	if py == "" {
		py = filepath.Join(root, ".venv", "bin", "python")
	}

	var results []result
	for _, w := range workers {
		r := result{Workers: w, JPEGDecoder: pipeline.JPEGDecoder()}
		r.Images, r.Go, err = measureGo(files, *n, w)
		if err != nil {
			return err
		}
		if py != "none" {
			tf, err := measureTF(py, filepath.Join(root, "pipeline", "bench_tfdata.py"), files, *n, w, *intraOp)
			if err != nil {
				r.TFError = err.Error()
			} else {
				r.TF, r.Ratio, r.CPURatio = &tf, r.Go.PerSec/tf.PerSec, r.Go.PerCPUSec/tf.PerCPUSec
			}
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Printf("train transforms at 448x448, %d images per measurement, %d files, JPEG decoder %s\n",
		*n, len(files), pipeline.JPEGDecoder())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workers\tGo img/s\ttf.data img/s\tGo/tf.data\tGo img/CPU-s\ttf.data img/CPU-s\tGo/tf.data\t")
	for _, r := range results {
		tfs, ratio, tfc, cratio := "-", "-", "-", "-"
		if r.TF != nil {
			tfs, ratio = fmt.Sprintf("%.1f", r.TF.PerSec), fmt.Sprintf("%.2f", r.Ratio)
			tfc, cratio = fmt.Sprintf("%.1f", r.TF.PerCPUSec), fmt.Sprintf("%.2f", r.CPURatio)
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%s\t%s\t%.1f\t%s\t%s\t\n", r.Workers, r.Go.PerSec, tfs, ratio, r.Go.PerCPUSec, tfc, cratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.TFError != "" {
			fmt.Printf("tf.data with %d workers failed: %s\n", r.Workers, r.TFError)
		}
	}
	return nil
}

// measureGo runs the train pipeline over n images (files cycled) plus one warm-up batch and
// returns the images timed and the rates.
func measureGo(files []string, n, workers int) (int, rate, error) {
	cfg := pipeline.DefaultConfig()
	cfg.Workers = workers
	batches := max(1, n/cfg.BatchSize)
	recs := make([]pipeline.Record, (batches+1)*cfg.BatchSize)
	for i := range recs {
		recs[i] = pipeline.Record{Path: files[i%len(files)], Label: i % 10}
	}
	ctx := context.Background()
	l, err := pipeline.NewTrain(ctx, recs, cfg, 0)
	if err != nil {
		return 0, rate{}, err
	}
	defer l.Close()
	var start time.Time
	var cpu0 time.Duration
	images := 0
	for i := 0; ; i++ {
		b, err := l.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, rate{}, err
		}
		if i == 0 {
			start, cpu0 = time.Now(), cpuTime() // after the warm-up batch, as the tf.data script does
		} else {
			images += b.Len()
		}
		b.Release()
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	if l.Skipped() > 0 {
		return 0, rate{}, fmt.Errorf("%d images could not be decoded", l.Skipped())
	}
	return images, rate{float64(images) / wall.Seconds(), float64(images) / cpu.Seconds()}, nil
}

// cpuTime is the process's user + system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureTF runs bench_tfdata.py and returns its rates.
func measureTF(python, script string, files []string, n, workers, intraOp int) (rate, error) {
	list, err := os.CreateTemp("", "benchpipe-files-*.txt")
	if err != nil {
		return rate{}, err
	}
	defer os.Remove(list.Name())
	if _, err := list.WriteString(strings.Join(files, "\n") + "\n"); err != nil {
		return rate{}, err
	}
	if err := list.Close(); err != nil {
		return rate{}, err
	}
	cmd := exec.Command(python, script, "--files", list.Name(), "--images", strconv.Itoa(n),
		"--workers", strconv.Itoa(workers), "--intra-op", strconv.Itoa(intraOp))
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return rate{}, fmt.Errorf("%s %s: %v: %s", python, script, err, lastLine(stderr.String()))
	}
	var out rate
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.PerSec <= 0 || out.PerCPUSec <= 0 {
		return rate{}, fmt.Errorf("%s: unexpected output %q: %v", script, stdout.String(), err)
	}
	return out, nil
}

// inputFiles lists the JPEGs of dir, or writes synthetic ones to a temporary directory.
func inputFiles(dir string) ([]string, func(), error) {
	if dir != "" {
		var files []string
		for _, pat := range []string{"*.jpg", "*.jpeg", "*.JPG", "*.JPEG"} {
			m, err := filepath.Glob(filepath.Join(dir, pat))
			if err != nil {
				return nil, nil, err
			}
			files = append(files, m...)
		}
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("no JPEG files in %s", dir)
		}
		return files, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "benchpipe-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	var files []string
	for i := range 64 {
		path := filepath.Join(tmp, fmt.Sprintf("img%02d.jpg", i))
		if err := writeJPEG(path, 500, 375, uint64(i)); err != nil {
			cleanup()
			return nil, nil, err
		}
		files = append(files, path)
	}
	return files, cleanup, nil
}

// writeJPEG writes a photo-like test image: smooth colour fields from a few random waves, a
// textured band and sensor-like noise.
func writeJPEG(path string, w, h int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6265))
	type wave struct{ fx, fy, phase, amp float64 }
	var waves [3][4]wave
	for c := range waves {
		for k := range waves[c] {
			waves[c][k] = wave{rng.NormFloat64() * 0.02, rng.NormFloat64() * 0.02, rng.Float64() * 2 * math.Pi, 20 + rng.Float64()*40}
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var v [3]float64
			for c := range v {
				v[c] = 128
				for _, wv := range waves[c] {
					v[c] += wv.amp * math.Sin(wv.fx*float64(x)+wv.fy*float64(y)+wv.phase)
				}
				if y > h/3 && y < h/2 { // fine texture, like feathers or foliage
					v[c] += 30 * math.Sin(float64(x)*0.9) * math.Cos(float64(y)*1.3)
				}
				v[c] += rng.NormFloat64() * 4
			}
			img.Set(x, y, color.RGBA{clamp(v[0]), clamp(v[1]), clamp(v[2]), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		f.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return f.Close()
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("want positive integers, got %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
