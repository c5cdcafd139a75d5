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
// activation map over the whole image at its own resolution (OUTDIR/<name>.cam.png; a second input of
// the same name gets <name>-2.cam.png, and the JSON's "cam" and the table's CAM column name each
// file): the map, computed on the centre crop the model sees, is carried back through the crop and
// the resize (package camviz), the image outside the crop is dimmed to grey, and a legend gives the
// label, its probability and the colour scale. A file that is not a readable image is reported on
// stderr (and in the JSON as an "error", in the table as "(not classified)") and makes the exit
// status 1; the others are still classified.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
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
	"github.com/finegrain/finegrain/internal/camviz"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/pipeline"
)

func main() {
	cli.QuietLogs()
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
	CAM   string           `json:"cam,omitempty"` // the activation map's file, with -cam
	Error string           `json:"error,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("predict", flag.ContinueOnError)
	fl.SetOutput(stderr)
	modelDir := fl.String("model", "", "exported SavedModel `directory` (go run ./cmd/export)")
	topk := fl.Int("topk", 5, "classes to show per image")
	asJSON := fl.Bool("json", false, "print one JSON array on stdout, one object per image in input order")
	camDir := fl.String("cam", "", "write the top class's activation map over each whole image to `OUTDIR` (see above)")
	batch := fl.Int("batch", 16, "images per session run")
	fl.Usage = func() {
		fmt.Fprintf(stderr, `Usage: predict -model DIR [-topk 5] [-json] [-cam OUTDIR] FILES_OR_DIRS...

Classifies images with an exported model.

Directories are searched recursively for %s files (JPEG, PNG, GIF, BMP,
WebP); files named on the command line are read whatever their name.

-cam OUTDIR writes one PNG per image, OUTDIR/<name>.cam.png (<name>-2.cam.png
for a second input of the same name; -json's "cam" and the table name each
file): the top class's activation map over the whole image, at the image's
resolution (images under %d pixels wide are enlarged by a whole factor).
The model sees only the centre crop of the resized image, so there is no
evidence outside it: that part is dimmed to grey. Below the image: the label
and its probability, and the colour scale, blue (the map's lowest value,
in logits) to red (its highest).

Examples:
  go run ./cmd/predict -model runs/demo/export bird.jpg
  go run ./cmd/predict -model runs/demo/export -json -topk 3 photos/ > predictions.json
  go run ./cmd/predict -model runs/demo/export -cam cams/ photos/

Flags:
`, strings.Join(pipeline.Extensions(), ", "), camviz.MinWidth)
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
			fmt.Fprintf(stderr, "predict: -cam: %v\n", err)
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
	printTable(stdout, results, *camDir != "")
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
	var data [][]byte // the files' bytes, kept for the activation maps
	var live []int    // indices of the files in the batch
	for i, f := range files {
		results[i].File = f
		b, img, err := p.preprocess(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			results[i].Error = err.Error()
			continue
		}
		pix = append(pix, img)
		live = append(live, i)
		if p.camDir != "" {
			data = append(data, b)
		}
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
			if results[i].CAM, err = p.writeCAM(files[i], data[j], pred.CAM[j], results[i].Top[0]); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// preprocess reads file and applies the evaluation transforms; it returns the file's bytes and the
// model's input. Errors say what is wrong with the file without repeating its name, which the result
// carries.
func (p *predictor) preprocess(ctx context.Context, file string) ([]byte, []float32, error) {
	data, err := pipeline.ReadImageFile(ctx, file, p.cfg.MaxFileBytes)
	if err == nil {
		var img []float32
		if img, err = pipeline.EvalEncoded(data, p.cfg); err == nil {
			return data, img, nil
		}
	}
	var bad *pipeline.BadImageError
	if errors.As(err, &bad) {
		return nil, nil, fmt.Errorf("not a usable image: %w", bad.Err)
	}
	return nil, nil, err
}

// writeCAM draws top's activation map (cam is [h][w][K]) over the whole image that data encodes, at
// its resolution, and returns the file it wrote. The image is decoded again at full scale (the
// model's input may come from a reduced-scale JPEG decoding), and the map is carried back through
// the evaluation crop and resize to it.
func (p *predictor) writeCAM(file string, data []byte, cam [][][]float32, top exported.Class) (string, error) {
	img, err := pipeline.Decode(data, p.cfg.MaxPixels)
	if err != nil {
		return "", fmt.Errorf("cam for %s: %w", file, err)
	}
	crop, err := camviz.CenterCrop(img.W, img.H, p.cfg.ResizeSize, p.cfg.ImageSize)
	if err != nil {
		return "", fmt.Errorf("cam for %s: %w", file, err)
	}
	m := camviz.Map{H: len(cam)}
	if m.H > 0 {
		m.W = len(cam[0])
	}
	for _, row := range cam {
		for _, v := range row {
			if top.ID < 0 || top.ID >= len(v) {
				return "", fmt.Errorf("cam for %s: class %d of a map with %d classes", file, top.ID, len(v))
			}
			m.V = append(m.V, v[top.ID])
		}
	}
	out, err := camviz.Overlay(img, m, crop, camviz.Options{Label: top.Label, Probability: float64(top.Probability)})
	if err != nil {
		return "", fmt.Errorf("cam for %s: %w", file, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return "", fmt.Errorf("cam for %s: %w", file, err)
	}
	path := filepath.Join(p.camDir, p.camName(file))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("cam for %s: %w", file, err)
	}
	return path, nil
}

// camName is the name of file's activation map in the output folder: <base>.cam.png, or with -2, -3,
// ... before .cam.png when an earlier input of this run took that name (a/x.jpg and b/x.jpg, x.jpg
// and x.png, the same file twice). Names are compared without letter case, so that no two maps
// overwrite each other on a case-insensitive file system either.
func (p *predictor) camName(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	name := base + ".cam.png"
	for n := 2; p.camNames[strings.ToLower(name)]; n++ {
		name = fmt.Sprintf("%s-%d.cam.png", base, n)
	}
	p.camNames[strings.ToLower(name)] = true
	return name
}

// printTable writes one row per class of each image, the file (and with cams, its map) named on the
// first.
func printTable(w io.Writer, results []result, cams bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	camCol := func(s string) string {
		if !cams {
			return ""
		}
		return "\t" + s
	}
	fmt.Fprintln(tw, "FILE\tRANK\tCLASS\tLABEL\tPROBABILITY"+camCol("CAM"))
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t(not classified)\t-%s\n", r.File, camCol("-"))
			continue
		}
		for i, c := range r.Top {
			name, cam := r.File, r.CAM
			if i > 0 {
				name, cam = "", ""
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.4f%s\n", name, i+1, c.ID, c.Label, c.Probability, camCol(cam))
		}
	}
	tw.Flush()
}
