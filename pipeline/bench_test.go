package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchImages writes n JPEGs of about 500×375 (CUB's typical size; quality 90, 4:2:0) to dir.
func benchImages(b *testing.B, dir string, n int) []Record {
	b.Helper()
	recs := make([]Record, n)
	for i := range recs {
		w, h := 500, 375
		if i%4 == 3 { // some portrait images
			w, h = 375, 500
		}
		path := filepath.Join(dir, fmt.Sprintf("bench%03d.jpg", i))
		if err := os.WriteFile(path, encodeJPEG(b, testImage(w, h, uint64(i))), 0o644); err != nil {
			b.Fatal(err)
		}
		recs[i] = Record{Path: path, Label: i % 10}
	}
	return recs
}

// BenchmarkTrainPipeline measures decoded and augmented images per second with the default train
// transforms at 448×448 (Resize(512) + RandomCrop(448), flip, rotation ±15°, ColorJitter(0.4, 0.4,
// 0.4, 0.1)), batches of 16, for 1 and 2 workers. One iteration is one image. cmd/benchpipe runs
// the same work through Python's tf.data for comparison.
func BenchmarkTrainPipeline(b *testing.B) {
	recs := benchImages(b, b.TempDir(), 32)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Workers = workers
			n := (b.N + cfg.BatchSize - 1) / cfg.BatchSize * cfg.BatchSize
			epoch := make([]Record, n)
			for i := range epoch {
				epoch[i] = recs[i%len(recs)]
			}
			b.ResetTimer()
			start := time.Now()
			l, err := NewTrain(context.Background(), epoch, cfg, 0)
			if err != nil {
				b.Fatal(err)
			}
			images := 0
			for {
				batch, err := l.Next(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				images += batch.Len()
				batch.Release()
			}
			l.Close()
			b.ReportMetric(float64(images)/time.Since(start).Seconds(), "images/s")
		})
	}
}

// BenchmarkStages times each step of the train transforms on one 500×375 JPEG at 448×448, to show
// where the time goes.
func BenchmarkStages(b *testing.B) {
	src := testImage(500, 375, 1)
	data := encodeJPEG(b, src)
	hdr, err := readHeader(data, 0)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	g := evalGeometry(&cfg, 500, 375)
	crop := NewRGB(448, 448)
	render(crop.Pix, src, 500, 375, g, nil)
	spare := NewRGB(448, 448)
	work := NewRGB(448, 448)
	fresh := func() { copy(work.Pix, crop.Pix) }
	stages := []struct {
		name string
		fn   func()
	}{
		{"decode", func() {
			if _, err := decodeRGB(data, hdr, 1); err != nil {
				b.Fatal(err)
			}
		}},
		{"resize+crop", func() { render(work.Pix, src, 500, 375, g, nil) }},
		{"flip", func() { flipHorizontal(work) }},
		{"rotate", func() { rotate(spare, work, 11.3, [3]uint8{}) }},
		{"brightness", func() { fresh(); adjustBrightness(work, 1.3) }},
		{"contrast", func() { fresh(); adjustContrast(work, 0.7) }},
		{"saturation", func() { fresh(); adjustSaturation(work, 1.2) }},
		{"hue", func() { fresh(); adjustHue(work, 0.07) }},
		{"float32", func() { toFloat(make([]float32, len(work.Pix)), work.Pix) }},
	}
	for _, s := range stages {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				s.fn()
			}
		})
	}
}

// BenchmarkScaledDecode compares decoding a 1600×1200 JPEG for the eval transforms at 448 (Resize
// 512) at full scale and at the 1/2 scale ScaledDecode picks (libjpeg-turbo builds only).
func BenchmarkScaledDecode(b *testing.B) {
	if !turboJPEG {
		b.Skip("reduced-scale decoding needs libjpeg-turbo (not built with the tag noturbojpeg)")
	}
	data := encodeJPEG(b, testImage(1600, 1200, 3))
	for _, scaled := range []bool{false, true} {
		b.Run(fmt.Sprintf("scaled=%v", scaled), func(b *testing.B) {
			var l loader
			l.cfg = DefaultConfig()
			l.cfg.ScaledDecode = scaled
			for b.Loop() {
				pix, err := l.process(data, "", false, nil)
				if err != nil {
					b.Fatal(err)
				}
				l.putPix(pix)
			}
		})
	}
}
