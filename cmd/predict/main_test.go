package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/testmodel"
	"github.com/finegrain/finegrain/pipeline"
)

// writeImage writes a w×h test image at path in the format of its extension; .webp files are copies
// of testdata (Go has no WebP encoder), whatever w and h.
func writeImage(t *testing.T, path string, w, h int, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x*7 + seed*40), uint8(y*5 + seed*13), uint8((x+y)*3 + seed), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		err = png.Encode(&buf, img)
	case ".gif":
		err = gif.Encode(&buf, img, nil)
	case ".bmp":
		err = bmp.Encode(&buf, img)
	case ".webp":
		name := "lossy.webp"
		if seed%2 == 1 {
			name = "lossless.webp"
		}
		b, rerr := os.ReadFile(filepath.Join("testdata", name))
		buf.Write(b)
		err = rerr
	default:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var model testmodel.Model

// testModel is the package's exported test model (internal/testmodel), made on first use.
func testModel(t *testing.T) string { return model.Dir(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	model.Remove()
	os.Exit(code)
}

// evalPredict is what predict must give for a file: the model's prediction on the evaluation
// pipeline's crop of it.
func evalPredict(t *testing.T, m *exported.Model, file string) []float32 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize = 32, 36
	pix, err := pipeline.EvalEncoded(data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), exported.Images{N: 1, Height: 32, Width: 32, Pix: pix})
	if err != nil {
		t.Fatal(err)
	}
	return p.Probabilities[0]
}

func TestPredictJSONTableAndCAM(t *testing.T) {
	modelDir := testModel(t)
	tmp := t.TempDir()
	imgs := filepath.Join(tmp, "imgs")
	writeImage(t, filepath.Join(imgs, "b.png"), 50, 40, 1)
	writeImage(t, filepath.Join(imgs, "sub", "a.jpg"), 40, 64, 2)
	writeImage(t, filepath.Join(imgs, "c.gif"), 33, 33, 3)
	writeImage(t, filepath.Join(imgs, "d.bmp"), 45, 38, 4)
	writeImage(t, filepath.Join(imgs, "e.webp"), 0, 0, 5)
	os.WriteFile(filepath.Join(imgs, "notes.txt"), []byte("skipped: not an image extension"), 0o644)
	os.WriteFile(filepath.Join(imgs, "scan.tiff"), []byte("II*\x00"), 0o644)
	bad := filepath.Join(tmp, "bad.jpg")
	os.WriteFile(bad, []byte("this is not a JPEG"), 0o644)
	single := filepath.Join(tmp, "single.png")
	writeImage(t, single, 32, 32, 4)

	camDir := filepath.Join(tmp, "cams")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-model", modelDir, "-json", "-topk", "3", "-batch", "2", "-cam", camDir, single, imgs, bad}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d with a bad file, want %d; stderr:\n%s", code, exitFailed, stderr.String())
	}
	if !strings.Contains(stderr.String(), bad) {
		t.Errorf("stderr does not name the bad file:\n%s", stderr.String())
	}
	wantSkipped := "predict: skipped 2 files: " + filepath.Join(imgs, "notes.txt") + ", " + filepath.Join(imgs, "scan.tiff") + " (not .jpg, .jpeg, .png, .gif, .bmp, .webp)"
	if !strings.Contains(stderr.String(), wantSkipped) {
		t.Errorf("stderr lacks %q:\n%s", wantSkipped, stderr.String())
	}
	var results []result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, stdout.String())
	}
	wantFiles := []string{single, filepath.Join(imgs, "b.png"), filepath.Join(imgs, "c.gif"), filepath.Join(imgs, "d.bmp"),
		filepath.Join(imgs, "e.webp"), filepath.Join(imgs, "sub", "a.jpg"), bad}
	if len(results) != len(wantFiles) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(wantFiles), results)
	}
	m, err := exported.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i, r := range results {
		if r.File != wantFiles[i] {
			t.Errorf("result %d is %s, want %s (input order)", i, r.File, wantFiles[i])
		}
		if r.File == bad {
			if r.Error == "" || len(r.Top) != 0 {
				t.Errorf("bad file result %+v, want an error", r)
			}
			continue
		}
		if len(r.Top) != 3 {
			t.Fatalf("%s: %d classes, want 3 (error %q)", r.File, len(r.Top), r.Error)
		}
		// Exactly the evaluation pipeline's preprocessing.
		top := m.TopK(evalPredict(t, m, r.File), 3)
		for k := range top {
			if top[k].ID != r.Top[k].ID || top[k].Label != r.Top[k].Label || top[k].Probability != r.Top[k].Probability {
				t.Errorf("%s rank %d: %+v, want %+v", r.File, k+1, r.Top[k], top[k])
			}
		}
		// And within rounding of the graph's own decoding, for the formats DecodeJpeg reads.
		if ext := filepath.Ext(r.File); ext == ".jpg" || ext == ".png" || ext == ".gif" {
			data, _ := os.ReadFile(r.File)
			p, err := m.PredictEncoded(context.Background(), [][]byte{data})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Top {
				if d := math.Abs(float64(p.Probabilities[0][c.ID] - c.Probability)); d > 1e-3 {
					t.Errorf("%s class %d: %.6f, predict_jpeg %.6f", r.File, c.ID, c.Probability, p.Probabilities[0][c.ID])
				}
			}
		}
		// The map covers the whole image, at its resolution (enlarged to be 256 wide: these are
		// small), with the legend below.
		base := strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File))
		if want := filepath.Join(camDir, base+".cam.png"); r.CAM != want {
			t.Errorf("%s: cam %q, want %q", r.File, r.CAM, want)
		}
		f, err := os.Open(r.CAM)
		if err != nil {
			t.Errorf("no CAM for %s: %v", r.File, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		src, err2 := pipeline.DecodeFile(r.File, 0)
		if err != nil || err2 != nil {
			t.Errorf("CAM of %s: %v, %v", r.File, err, err2)
			continue
		}
		k := (256 + src.W - 1) / src.W
		if cfg.Width != src.W*k || cfg.Height <= src.H*k+20 {
			t.Errorf("CAM of %s (%dx%d): %dx%d, want %d wide and a legend below %d rows", r.File, src.W, src.H, cfg.Width, cfg.Height, src.W*k, src.H*k)
		}
	}

	// The table: one row per class, the file named on its first row.
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"-model", modelDir, "-topk", "2", single}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "FILE") || !strings.HasPrefix(lines[1], single) || !strings.Contains(lines[2], " 2 ") || strings.Contains(lines[0], "CAM") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

// TestPredictEveryFormat: what the usage documents, what predict collects from a folder and what it
// classifies are the same list of formats, the pipeline's: one file of each extension (in upper case
// too) is collected and classified. Before, BMP was documented and collected, and every BMP failed
// in the graph's DecodeJpeg.
func TestPredictEveryFormat(t *testing.T) {
	modelDir := testModel(t)
	dir := t.TempDir()
	var want []string
	for i, ext := range pipeline.Extensions() {
		for _, e := range []string{ext, strings.ToUpper(ext)} {
			p := filepath.Join(dir, "img"+strings.TrimPrefix(e, ".")+e)
			writeImage(t, p, 40+i, 36, i)
			want = append(want, p)
		}
	}
	slices.Sort(want)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-model", modelDir, "-json", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr.String())
	}
	var results []result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.File)
		if r.Error != "" || len(r.Top) == 0 {
			t.Errorf("%s: %+v, want a classification", r.File, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("collected %q\nwant %q", got, want)
	}
	stderr.Reset()
	run(context.Background(), []string{"-h"}, &stdout, &stderr)
	for _, ext := range pipeline.Extensions() {
		if !strings.Contains(stderr.String(), ext) {
			t.Errorf("usage does not list %s:\n%s", ext, stderr.String())
		}
	}
}

// TestPredictSpecialFiles gives predict "images" that are a named pipe, /dev/zero, a directory and a
// file past the size limit, named on the command line and found in a folder, next to a good image:
// each is reported with the kind of file, the good one is classified, and the run ends at once with
// status 1. Before, the pipe blocked predict forever and /dev/zero was read until memory ran out.
func TestPredictSpecialFiles(t *testing.T) {
	modelDir := testModel(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jpg")
	writeImage(t, good, 40, 40, 1)
	folder := filepath.Join(dir, "folder")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(folder, 0o755))
	pipe := filepath.Join(dir, "pipe.jpg")
	must(syscall.Mkfifo(pipe, 0o644))
	pipeInFolder := filepath.Join(folder, "pipe.png")
	must(syscall.Mkfifo(pipeInFolder, 0o644))
	zero := filepath.Join(folder, "zero.jpg")
	must(os.Symlink("/dev/zero", zero))
	huge := filepath.Join(dir, "huge.jpg")
	f, err := os.Create(huge)
	must(err)
	must(f.Truncate(pipeline.DefaultMaxFileBytes + 1)) // sparse
	f.Close()
	cases := map[string]string{
		pipe:         "not a regular file (named pipe)",
		pipeInFolder: "not a regular file (named pipe)",
		zero:         "not a regular file (character device)",
		"/dev/zero":  "not a regular file (character device)",
		huge:         "file too large",
	}
	type outcome struct {
		code           int
		stdout, stderr string
	}
	done := make(chan outcome, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-model", modelDir, "-json", pipe, "/dev/zero", huge, good, folder}, &stdout, &stderr)
		done <- outcome{code, stdout.String(), stderr.String()}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("predict still running after 2 minutes: a special file blocked it")
	}
	if o.code != exitFailed {
		t.Errorf("exit %d, want %d", o.code, exitFailed)
	}
	var results []result
	if err := json.Unmarshal([]byte(o.stdout), &results); err != nil {
		t.Fatalf("stdout: %v\n%s", err, o.stdout)
	}
	byFile := map[string]result{}
	for _, r := range results {
		byFile[r.File] = r
	}
	if r := byFile[good]; len(r.Top) == 0 {
		t.Errorf("the good image was not classified: %+v", r)
	}
	for file, want := range cases {
		r, ok := byFile[file]
		if !ok || !strings.Contains(r.Error, want) {
			t.Errorf("%s: result %+v, want an error saying %q", file, r, want)
		}
		if !strings.Contains(o.stderr, "predict: "+file+": ") {
			t.Errorf("stderr does not name %s:\n%s", file, o.stderr)
		}
	}
}

func TestPredictUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "-model DIR is required"},
		{[]string{"-model", "m"}, exitUsage, "no image files"},
		{[]string{"-model", "m", "-topk", "0", "x.jpg"}, exitUsage, "at least 1"},
		{[]string{"-model", t.TempDir(), t.TempDir()}, exitFailed, "no images"},
		{[]string{"-model", filepath.Join(t.TempDir(), "missing"), "main.go"}, exitFailed, "load model"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("predict %q: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}
