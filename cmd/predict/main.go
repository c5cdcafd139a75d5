// Command predict classifies image files with an exported SavedModel:
//
//	go run ./cmd/predict -model DIR [-topk 5] [-json] [-cam OUTDIR] FILES_OR_DIRS...
//
// Directories are searched recursively for .jpg, .jpeg, .png, .gif and .bmp files (sorted); files named
// on the command line are used whatever their extension. Images are decoded, resized and cropped in the
// model's graph (its predict_jpeg signature). The output is a table of the top-k classes per image, or
// with -json one JSON array in input order. -cam writes, per image, the top class's activation map as a
// heat-map over the model's input crop (OUTDIR/<name>.cam.png). A file that is not a readable image is
// reported on stderr (and in the JSON as an "error", in the table as "(not classified)") and makes the
// exit status 1; the others are still classified.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/train"
)

func main() {
	ops.QuietLogs()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// result is one image's line of output.
type result struct {
	File  string           `json:"file"`
	Top   []exported.Class `json:"top,omitempty"`
	Error string           `json:"error,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("predict", flag.ContinueOnError)
	fl.SetOutput(stderr)
	modelDir := fl.String("model", "", "exported SavedModel `directory` (go run ./cmd/export)")
	topk := fl.Int("topk", 5, "classes to show per image")
	asJSON := fl.Bool("json", false, "print one JSON array on stdout, one object per image in input order")
	camDir := fl.String("cam", "", "write the top class's activation map over each image to `OUTDIR`")
	batch := fl.Int("batch", 16, "images per session run")
	fl.Usage = func() {
		fmt.Fprintf(stderr, `Usage: predict -model DIR [-topk 5] [-json] [-cam OUTDIR] FILES_OR_DIRS...

Classifies images with an exported model. Directories are searched recursively for .jpg, .jpeg,
.png, .gif and .bmp files.

Examples:
  go run ./cmd/predict -model runs/demo/export bird.jpg
  go run ./cmd/predict -model runs/demo/export -json -topk 3 photos/ > predictions.json
  go run ./cmd/predict -model runs/demo/export -cam cams/ photos/

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case *modelDir == "":
		fmt.Fprintln(stderr, "predict: -model DIR is required (see -h)")
		return exitUsage
	case fl.NArg() == 0:
		fmt.Fprintln(stderr, "predict: no image files or directories given (see -h)")
		return exitUsage
	case *topk < 1 || *batch < 1:
		fmt.Fprintln(stderr, "predict: -topk and -batch must be at least 1")
		return exitUsage
	}
	files, err := collect(fl.Args())
	if err != nil {
		fmt.Fprintf(stderr, "predict: %v\n", err)
		return exitFailed
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "predict: no images (.jpg, .jpeg, .png, .gif, .bmp) under %s\n", strings.Join(fl.Args(), ", "))
		return exitFailed
	}
	if *camDir != "" {
		if err := os.MkdirAll(*camDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "predict: %v\n", err)
			return exitFailed
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := exported.Load(*modelDir)
	if err != nil {
		fmt.Fprintf(stderr, "predict: %v\n", err)
		return exitFailed
	}
	defer m.Close()

	p := predictor{m: m, topk: *topk, camDir: *camDir, camNames: map[string]bool{}}
	results := make([]result, 0, len(files))
	for start := 0; start < len(files); start += *batch {
		part, err := p.classify(ctx, files[start:min(start+*batch, len(files))])
		if err != nil {
			fmt.Fprintf(stderr, "predict: %v\n", err)
			return exitFailed
		}
		results = append(results, part...)
	}

	status := exitOK
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(stderr, "predict: %s: %s\n", r.File, r.Error)
			status = exitFailed
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "predict: %v\n", err)
			return exitFailed
		}
		return status
	}
	printTable(stdout, results)
	return status
}

// collect expands directories into their image files, in sorted order, keeping named files as given.
func collect(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".jpg", ".jpeg", ".png", ".gif", ".bmp":
				if !d.IsDir() {
					found = append(found, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

type predictor struct {
	m        *exported.Model
	topk     int
	camDir   string
	camNames map[string]bool
}

// classify predicts one batch of files. Unreadable files and images the model cannot decode get an
// error in their result, and the batch is retried without them.
func (p *predictor) classify(ctx context.Context, files []string) ([]result, error) {
	results := make([]result, len(files))
	data := make([][]byte, len(files))
	var live []int // indices of files still in the batch
	for i, f := range files {
		results[i].File = f
		b, err := os.ReadFile(f)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		data[i] = b
		live = append(live, i)
	}
	var opts []exported.PredictOption
	if p.camDir != "" {
		opts = append(opts, exported.WithCAM())
	}
	for len(live) > 0 {
		batch := make([][]byte, len(live))
		for j, i := range live {
			batch[j] = data[i]
		}
		pred, err := p.m.PredictEncoded(ctx, batch, opts...)
		var ie *exported.ImageError
		if errors.As(err, &ie) {
			bad := live[ie.Index]
			results[bad].Error = "not a usable image: " + ie.Err.Error()
			live = slices.Delete(live, ie.Index, ie.Index+1)
			continue
		}
		if err != nil {
			return nil, err
		}
		for j, i := range live {
			results[i].Top = p.m.TopK(pred.Probabilities[j], p.topk)
			if p.camDir != "" {
				if err := p.writeCAM(files[i], data[i], pred.CAM[j], results[i].Top[0].ID); err != nil {
					return nil, err
				}
			}
		}
		break
	}
	return results, nil
}

// writeCAM draws class k's activation map over the image as the eval pipeline crops it.
func (p *predictor) writeCAM(file string, data []byte, cam [][][]float32, k int) error {
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize, cfg.ScaledDecode = p.m.InputSize(), p.m.Metadata().ResizeSize, false
	if cfg.ResizeSize < cfg.ImageSize {
		cfg.ResizeSize = cfg.ImageSize
	}
	pix, err := pipeline.EvalEncoded(data, cfg)
	if err != nil {
		return fmt.Errorf("cam for %s: %w", file, err)
	}
	h, w := len(cam), len(cam[0])
	flat := make([]float32, 0, h*w)
	for _, row := range cam {
		for _, v := range row {
			flat = append(flat, v[k])
		}
	}
	png, err := train.CAMOverlay(pix, cfg.ImageSize, flat, h, w, 0.5)
	if err != nil {
		return fmt.Errorf("cam for %s: %w", file, err)
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	name := base + ".cam.png"
	for n := 2; p.camNames[name]; n++ {
		name = fmt.Sprintf("%s-%d.cam.png", base, n)
	}
	p.camNames[name] = true
	if err := os.WriteFile(filepath.Join(p.camDir, name), png, 0o644); err != nil {
		return fmt.Errorf("cam for %s: %w", file, err)
	}
	return nil
}

func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tRANK\tCLASS\tLABEL\tPROBABILITY")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t(not classified)\t-\n", r.File)
			continue
		}
		for i, c := range r.Top {
			name := r.File
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.4f\n", name, i+1, c.ID, c.Label, c.Probability)
		}
	}
	tw.Flush()
}
