// Command predict classifies image files with an exported SavedModel:
//
//	go run ./cmd/predict -model DIR [-topk 5] [-json] [-cam OUTDIR] FILES_OR_DIRS...
//
// Directories are searched recursively for the files of the formats the input pipeline decodes (JPEG,
// PNG, GIF, BMP and WebP: pipeline.Extensions, in any letter case), sorted; other files there are
// counted and named in one line on stderr. Files named on the command line are used whatever their
// extension. Images are decoded, resized and cropped in Go by the evaluation pipeline
// (pipeline.EvalEncoded with the model's input size and resize_size), exactly as evaluation during
// training does, and fed to the model's float32 images signature; the SavedModel's predict_jpeg
// signature, which decodes in the graph with DecodeJpeg, cannot read BMP or WebP. Files are read only
// if they are regular files (symbolic links followed) of at most 512 MiB: a named pipe, a device or a
// directory is reported at once, never waited on. The output is a table of the top-k classes per
// image, or with -json one JSON array in input order. -cam writes, per image, the top class's
// activation map as a heat-map over the model's input crop (OUTDIR/<name>.cam.png). A file that is not
// a readable image is reported on stderr (and in the JSON as an "error", in the table as "(not
// classified)") and makes the exit status 1; the others are still classified.
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

Classifies images with an exported model.

Directories are searched recursively for %s files (JPEG, PNG, GIF, BMP,
WebP); files named on the command line are read whatever their name.

Examples:
  go run ./cmd/predict -model runs/demo/export bird.jpg
  go run ./cmd/predict -model runs/demo/export -json -topk 3 photos/ > predictions.json
  go run ./cmd/predict -model runs/demo/export -cam cams/ photos/

Flags:
`, strings.Join(pipeline.Extensions(), ", "))
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
	files, skipped, err := collect(fl.Args())
	if err != nil {
		fmt.Fprintf(stderr, "predict: %v\n", err)
		return exitFailed
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "predict: skipped %s: %s (not %s)\n", plural(len(skipped), "file"), list(skipped), strings.Join(pipeline.Extensions(), ", "))
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "predict: no images (%s) under %s\n", strings.Join(pipeline.Extensions(), ", "), strings.Join(fl.Args(), ", "))
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

	p := predictor{m: m, topk: *topk, camDir: *camDir, camNames: map[string]bool{}, cfg: evalConfig(m)}
	if m.Metadata().ResizeSize == 0 {
		fmt.Fprintf(stderr, "predict: %s has no resize_size in its metadata: resizing to %d for the %d crop (8/7 of it)\n", *modelDir, p.cfg.ResizeSize, p.cfg.ImageSize)
	}
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

// collect expands directories into their image files (by extension, pipeline.Extensions), in
// sorted order, keeping named files as given. Symbolic links are followed, to files and to folders
// (a link back to a folder already searched is not followed again). Hidden files and folders (a name
// starting with ".") are neither collected nor reported; skipped are the other files found in
// directories.
func collect(args []string) (files, skipped []string, err error) {
	seen := map[string]bool{} // folders searched, symbolic links resolved
	var walk func(root string) ([]string, error)
	walk = func(root string) ([]string, error) {
		if real, err := filepath.EvalSymlinks(root); err == nil {
			if seen[real] {
				return nil, nil
			}
			seen[real] = true
		}
		var found []string
		// The trailing separator makes WalkDir enter a root that is a symbolic link to a folder.
		err := filepath.WalkDir(root+string(filepath.Separator), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			path = filepath.Clean(path)
			if strings.HasPrefix(d.Name(), ".") && path != filepath.Clean(root) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if st, err := os.Stat(path); err == nil && st.IsDir() {
					sub, err := walk(path)
					found = append(found, sub...)
					return err
				}
			}
			if pipeline.HasImageExt(path) {
				found = append(found, path)
			} else {
				skipped = append(skipped, path)
			}
			return nil
		})
		return found, err
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		found, err := walk(a)
		if err != nil {
			return nil, nil, err
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, skipped, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// list names the first five paths and counts the others.
func list(paths []string) string {
	if len(paths) <= 5 {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:5], ", "), len(paths)-5)
}

// evalConfig is the evaluation pipeline of the model: its input size and the resize of its metadata
// (8/7 of the input size, the default rule, when the metadata has none), with the pipeline's other
// defaults, as training's evaluation uses them.
func evalConfig(m *exported.Model) pipeline.Config {
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize = m.InputSize()
	cfg.ResizeSize = m.Metadata().ResizeSize
	if cfg.ResizeSize == 0 {
		cfg.ResizeSize = cfg.ImageSize * 8 / 7 // train.DataConfig.ResolvedResize's rule
	}
	cfg.ResizeSize = max(cfg.ResizeSize, cfg.ImageSize)
	return cfg
}

type predictor struct {
	m        *exported.Model
	topk     int
	camDir   string
	camNames map[string]bool
	cfg      pipeline.Config // the evaluation transforms
}

// classify predicts one batch of files. Each file is read (a regular file of bounded size) and
// preprocessed by the evaluation pipeline; a file that cannot be read or decoded gets an error in its
// result and the others are classified.
func (p *predictor) classify(ctx context.Context, files []string) ([]result, error) {
	results := make([]result, len(files))
	s := p.cfg.ImageSize
	per := s * s * 3
	var pix [][]float32
	var live []int // indices of the files in the batch
	for i, f := range files {
		results[i].File = f
		img, err := p.preprocess(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			results[i].Error = err.Error()
			continue
		}
		pix = append(pix, img)
		live = append(live, i)
	}
	if len(live) == 0 {
		return results, nil
	}
	batch := exported.Images{N: len(live), Height: s, Width: s, Pix: make([]float32, 0, len(live)*per)}
	for _, img := range pix {
		batch.Pix = append(batch.Pix, img...)
	}
	var opts []exported.PredictOption
	if p.camDir != "" {
		opts = append(opts, exported.WithCAM())
	}
	pred, err := p.m.Predict(ctx, batch, opts...)
	if err != nil {
		return nil, err
	}
	for j, i := range live {
		results[i].Top = p.m.TopK(pred.Probabilities[j], p.topk)
		if p.camDir != "" {
			if err := p.writeCAM(files[i], pix[j], pred.CAM[j], results[i].Top[0].ID); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// preprocess reads file and applies the evaluation transforms. Errors say what is wrong with the
// file without repeating its name, which the result carries.
func (p *predictor) preprocess(ctx context.Context, file string) ([]float32, error) {
	data, err := pipeline.ReadImageFile(ctx, file, p.cfg.MaxFileBytes)
	if err == nil {
		var img []float32
		if img, err = pipeline.EvalEncoded(data, p.cfg); err == nil {
			return img, nil
		}
	}
	var bad *pipeline.BadImageError
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("not a usable image: %w", bad.Err)
	}
	return nil, err
}

// writeCAM draws class k's activation map over the image as the eval pipeline crops it (pix).
func (p *predictor) writeCAM(file string, pix []float32, cam [][][]float32, k int) error {
	h, w := len(cam), len(cam[0])
	flat := make([]float32, 0, h*w)
	for _, row := range cam {
		for _, v := range row {
			flat = append(flat, v[k])
		}
	}
	png, err := train.CAMOverlay(pix, p.cfg.ImageSize, flat, h, w, 0.5)
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
