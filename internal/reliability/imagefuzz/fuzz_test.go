package imagefuzz

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/finegrain/finegrain/pipeline"
)

// fuzzConfig is a small pipeline: 24-pixel crops of images resized to 28, every training transform on,
// and a pixel limit that keeps each input cheap.
func fuzzConfig() pipeline.Config {
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize = 24, 28
	cfg.MaxPixels = 1 << 16
	cfg.BatchSize, cfg.Workers, cfg.Prefetch = 1, 0, 0
	cfg.OnBadImage = "fail"
	return cfg
}

// FuzzImagePath drives whole files through the input pipeline's per-image path as training and
// evaluation use it: the header check and pixel limit, decoding, Resize and CenterCrop
// (pipeline.EvalEncoded), and a one-image training loader reading the file (random crop, flip,
// rotation, colour jitter). No input may panic; a failure must be a *pipeline.BadImageError and
// happen in both paths; an image must come out at the configured size with values in 0..255.
//
// The committed seed corpus (testdata/fuzz/FuzzImagePath) holds what Go's encoders cannot write,
// made with PIL 9.4: progressive, grayscale, CMYK, 4:4:4, odd-sized, EXIF-rotated and 1×1 JPEGs;
// 16-bit gray, gray+alpha, transparent-palette, 1-bit, RGBA and 300×1 PNGs; two- and five-frame
// GIFs (every frame counts against the pixel limit); 24-bit and paletted BMPs and lossless, lossy
// and lossy-with-alpha WebPs (formats the pipeline decodes with golang.org/x/image); a TIFF (a
// format it refuses, by name); and a PNG header declaring 1000×1000 pixels with no pixel data (past
// the pixel limit here).
func FuzzImagePath(f *testing.F) {
	m := image.NewRGBA(image.Rect(0, 0, 19, 13))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 37)
	}
	var j, g, p bytes.Buffer
	if err := jpeg.Encode(&j, m, &jpeg.Options{Quality: 75}); err != nil {
		f.Fatal(err)
	}
	if err := gif.Encode(&g, m, nil); err != nil {
		f.Fatal(err)
	}
	if err := png.Encode(&p, m); err != nil {
		f.Fatal(err)
	}
	f.Add(j.Bytes())
	f.Add(j.Bytes()[:j.Len()/2])
	f.Add(g.Bytes())
	f.Add(p.Bytes())
	f.Add([]byte{})
	cfg := fuzzConfig()
	size := cfg.ImageSize * cfg.ImageSize * 3
	// The training loader reads a file: one per fuzzing process, which runs its inputs one at a time.
	file := filepath.Join(f.TempDir(), "image")
	f.Fuzz(func(t *testing.T, data []byte) {
		pix, evalErr := pipeline.EvalEncoded(data, cfg)
		var bad *pipeline.BadImageError
		if evalErr != nil && !errors.As(evalErr, &bad) {
			t.Fatalf("eval: error %v (%T), want a *pipeline.BadImageError", evalErr, evalErr)
		}
		if evalErr == nil {
			checkPixels(t, "eval", pix, size)
		}

		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		l, err := pipeline.NewTrain(ctx, []pipeline.Record{{Path: file}}, cfg, 1+len(data)%5)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		b, trainErr := l.Next(ctx)
		if trainErr != nil && !errors.As(trainErr, &bad) {
			t.Fatalf("train: error %v (%T), want a *pipeline.BadImageError", trainErr, trainErr)
		}
		if (evalErr == nil) != (trainErr == nil) {
			t.Fatalf("evaluation and training disagree about the image: eval %v, train %v", evalErr, trainErr)
		}
		if trainErr == nil {
			if b.Shape != [4]int{1, cfg.ImageSize, cfg.ImageSize, 3} {
				t.Fatalf("train batch of shape %v", b.Shape)
			}
			checkPixels(t, "train", b.Images, size)
			b.Release()
		}
	})
}

func checkPixels(t *testing.T, what string, pix []float32, n int) {
	t.Helper()
	if len(pix) != n {
		t.Fatalf("%s: %d values, want %d", what, len(pix), n)
	}
	for i, v := range pix {
		if !(v >= 0 && v <= 255) || math.IsNaN(float64(v)) {
			t.Fatalf("%s: value %d is %v, want 0..255", what, i, v)
		}
	}
}
