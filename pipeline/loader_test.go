package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeDataset writes n small images of varied sizes and formats (JPEG, gray PNG, RGBA PNG) plus
// the given bad files, and returns their records (bad ones last, label -1 for bad... labels are
// i % 5) and the number of good ones.
func writeDataset(t testing.TB, dir string, n int, bad map[string][]byte) []Record {
	t.Helper()
	var recs []Record
	for i := range n {
		w, h := 40+(i*7)%30, 36+(i*11)%30
		img := testImage(w, h, uint64(i))
		var data []byte
		name := fmt.Sprintf("img%03d", i)
		switch i % 5 {
		case 3: // gray PNG
			g := image.NewGray(image.Rect(0, 0, w, h))
			for p := range g.Pix {
				g.Pix[p] = img.Pix[3*p]
			}
			data = encodePNG(t, g)
			name += ".png"
		case 4: // RGBA PNG
			rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
			for p := 0; p < w*h; p++ {
				copy(rgba.Pix[4*p:4*p+3], img.Pix[3*p:3*p+3])
				rgba.Pix[4*p+3] = uint8(p)
			}
			data = encodePNG(t, rgba)
			name += ".png"
		default:
			data = encodeJPEG(t, img)
			name += ".jpg"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, Record{Path: path, Label: i % 5})
	}
	names := make([]string, 0, len(bad))
	for name := range bad {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, bad[name], 0o644); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, Record{Path: path, Label: 0})
	}
	return recs
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func badFiles(t testing.TB) map[string][]byte {
	good := encodeJPEG(t, testImage(40, 30, 99))
	return map[string][]byte{
		"empty.jpg":     nil,
		"truncated.jpg": good[:len(good)/2],
		"text.jpg":      []byte("not an image"),
		"bomb.png":      pngHeaderOnly(50000, 50000),
	}
}

func smallConfig() Config {
	c := DefaultConfig()
	c.ImageSize, c.ResizeSize = 32, 36
	c.BatchSize = 4
	c.Workers = 3
	c.Seed = 11
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

// readAll reads a loader to the end, returning copies of its batches.
func readAll(t testing.TB, l *Loader) []*Batch {
	t.Helper()
	defer l.Close()
	var out []*Batch
	for {
		b, err := l.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c := &Batch{Images: slices.Clone(b.Images), Shape: b.Shape, Labels: slices.Clone(b.Labels),
			Paths: slices.Clone(b.Paths), Indices: slices.Clone(b.Indices)}
		b.Release()
		out = append(out, c)
	}
}

func TestTrainLoader(t *testing.T) {
	done := checkNoLeak(t)
	recs := writeDataset(t, t.TempDir(), 23, badFiles(t))
	cfg := smallConfig()
	l, err := NewTrain(context.Background(), recs, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	batches := readAll(t, l)
	if l.Skipped() != 4 {
		t.Errorf("skipped %d bad images, want 4", l.Skipped())
	}
	if len(batches) != 23/4 {
		t.Fatalf("%d batches from 23 good images, want %d", len(batches), 23/4)
	}
	seen := map[int]bool{}
	for _, b := range batches {
		if b.Shape != [4]int{4, 32, 32, 3} || len(b.Images) != 4*32*32*3 || len(b.Bytes()) != 4*len(b.Images) {
			t.Fatalf("batch shape %v with %d values", b.Shape, len(b.Images))
		}
		for i, idx := range b.Indices {
			if seen[idx] {
				t.Errorf("image %d twice in an epoch", idx)
			}
			seen[idx] = true
			if idx >= 23 || b.Labels[i] != int32(recs[idx].Label) || b.Paths[i] != recs[idx].Path {
				t.Errorf("sample %d: index %d label %d path %s", i, idx, b.Labels[i], b.Paths[i])
			}
		}
		for _, v := range b.Images {
			if v < 0 || v > 255 || v != float32(math.Trunc(float64(v))) {
				t.Fatalf("value %v is not an integer in 0..255", v)
			}
		}
	}

	// Stopped early: closed after one batch, and cancelled through the context.
	l, err = NewTrain(context.Background(), recs, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	l, err = NewTrain(ctx, recs, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := l.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
	l.Close()
	done()
}

// TestTrainDeterminism: for a seed and epoch the batches are the same bytes whatever the number
// of workers; another epoch reorders; unordered mode changes only the order, never an image's
// augmentation.
func TestTrainDeterminism(t *testing.T) {
	recs := writeDataset(t, t.TempDir(), 16, nil)
	run := func(workers, epoch int, deterministic bool, seed uint64) []*Batch {
		cfg := smallConfig()
		cfg.Workers, cfg.Deterministic, cfg.Seed = workers, deterministic, seed
		l, err := NewTrain(context.Background(), recs, cfg, epoch)
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, l)
	}
	equal := func(a, b []*Batch) bool {
		return slices.EqualFunc(a, b, func(x, y *Batch) bool {
			return slices.Equal(x.Images, y.Images) && slices.Equal(x.Indices, y.Indices)
		})
	}
	base := run(1, 3, true, 5)
	for _, workers := range []int{0, 2, 4} {
		if !equal(base, run(workers, 3, true, 5)) {
			t.Errorf("%d workers differ from 1 worker", workers)
		}
	}
	if equal(base, run(2, 4, true, 5)) {
		t.Error("epochs 3 and 4 gave the same batches")
	}
	if equal(base, run(2, 3, true, 6)) {
		t.Error("seeds 5 and 6 gave the same batches")
	}
	// Per image, the augmentation depends only on (seed, epoch, index).
	byIndex := func(bs []*Batch) map[int][]float32 {
		m := map[int][]float32{}
		per := 32 * 32 * 3
		for _, b := range bs {
			for i, idx := range b.Indices {
				m[idx] = b.Images[i*per : (i+1)*per]
			}
		}
		return m
	}
	want := byIndex(base)
	for idx, img := range byIndex(run(4, 3, false, 5)) {
		if !slices.Equal(img, want[idx]) {
			t.Errorf("image %d augmented differently in unordered mode", idx)
		}
	}
}

func TestBadImagePolicies(t *testing.T) {
	dir := t.TempDir()
	recs := writeDataset(t, dir, 5, badFiles(t))
	cfg := smallConfig()
	cfg.OnBadImage = "fail"
	cfg.Workers = 1
	l, err := NewTrain(context.Background(), recs, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	var bads []string
	for {
		b, err := l.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err == nil {
			b.Release()
			continue
		}
		var bad *BadImageError
		if !errors.As(err, &bad) {
			t.Fatalf("error %v, want *BadImageError", err)
		}
		bads = append(bads, filepath.Base(bad.Path))
	}
	l.Close()
	slices.Sort(bads)
	if want := []string{"bomb.png", "empty.jpg", "text.jpg", "truncated.jpg"}; !slices.Equal(bads, want) {
		t.Errorf("errors for %v, want %v", bads, want)
	}

	// Every image bad: the pass ends with an error, not a silent empty epoch.
	cfg.OnBadImage = "skip"
	l, err = NewEval(context.Background(), recs[5:], cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(context.Background()); err == nil || err == io.EOF || !errors.As(err, new(*BadImageError)) {
		t.Errorf("all bad: %v", err)
	}
	l.Close()
}

// TestEvalLoader: records in order, a last partial batch, and each image equal to EvalImage of
// the decoded file.
func TestEvalLoader(t *testing.T) {
	recs := writeDataset(t, t.TempDir(), 10, nil)
	cfg := smallConfig()
	l, err := NewEval(context.Background(), recs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	batches := readAll(t, l)
	var sizes, order []int
	for _, b := range batches {
		sizes = append(sizes, b.Len())
		order = append(order, b.Indices...)
	}
	if !slices.Equal(sizes, []int{4, 4, 2}) || !slices.Equal(order, ints(10)) {
		t.Fatalf("batch sizes %v, order %v", sizes, order)
	}
	per := 32 * 32 * 3
	for i, rec := range recs {
		img, err := DecodeFile(rec.Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		want, err := EvalImage(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := batches[i/4]
		if got := b.Images[(i%4)*per : (i%4+1)*per]; !slices.Equal(got, want) {
			t.Errorf("image %d differs from EvalImage", i)
		}
		data, _ := os.ReadFile(rec.Path)
		if enc, err := EvalEncoded(data, cfg); err != nil || !slices.Equal(enc, want) {
			t.Errorf("image %d: EvalEncoded differs from EvalImage (%v)", i, err)
		}
	}
}

// TestTrainComposition pins the random transforms so the train path must equal known
// deterministic operations: with ResizeSize == ImageSize on square images RandomCrop has one
// choice, and FlipP = 1 always flips, so the output is flip(resize(image)).
func TestTrainComposition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sq.png")
	src := testImage(50, 50, 4)
	if err := os.WriteFile(path, encodePNG(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig()
	cfg.ResizeSize = cfg.ImageSize
	cfg.FlipP, cfg.RotationDegrees, cfg.Jitter = 1, 0, Jitter{}
	cfg.BatchSize = 1
	l, err := NewTrain(context.Background(), []Record{{Path: path}}, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, l)[0].Images
	want := resizeRGB(src, src.Bounds(), 32, 32, image.Rect(0, 0, 32, 32))
	flipHorizontal(want)
	wantF := make([]float32, len(want.Pix))
	toFloat(wantF, want.Pix)
	if !slices.Equal(got, wantF) {
		t.Error("train output is not flip(resize(image))")
	}
}

// TestRandomCropDistributions checks the random parameters against torchvision's definitions:
// RandomResizedCrop's area fraction and aspect ratio lie in their ranges (or the central
// fallback is taken), RandomCrop's offsets cover every position, and the flip rate is p.
func TestRandomCropDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	for range 2000 {
		r := randomResizedCropRect(rng, 500, 375, scale, ratio)
		if !r.In(image.Rect(0, 0, 500, 375)) || r.Empty() {
			t.Fatalf("crop %v outside the image", r)
		}
		area := float64(r.Dx()*r.Dy()) / (500 * 375)
		aspect := float64(r.Dx()) / float64(r.Dy())
		// Rounding w and h to integers moves area and aspect a little past the ranges.
		if area < 0.08*0.97 || area > 1.0001 || aspect < 0.75*0.97 || aspect > 4.0/3*1.03 {
			t.Errorf("crop %v: area fraction %.3f, aspect %.3f", r, area, aspect)
		}
	}
	// Impossible scale: torchvision's fallback, a central crop clamped to the ratio range.
	if r := randomResizedCropRect(rng, 400, 100, [2]float64{2, 3}, ratio); r != image.Rect(133, 0, 266, 100) {
		// w = round(100 * 4/3) = 133, left = (400 - 133) // 2 = 133.
		t.Errorf("fallback crop %v, want (133,0)-(266,100)", r)
	}
	seen := map[image.Point]int{}
	for range 500 {
		seen[randomCropRect(rng, 6, 5, 4, 4).Min]++
	}
	if len(seen) != 3*2 {
		t.Errorf("RandomCrop offsets %v, want all 6", seen)
	}
	cfg := smallConfig()
	cfg.RotationDegrees, cfg.Jitter = 0, Jitter{}
	flips := 0
	a, b := NewRGB(2, 1), NewRGB(2, 1)
	a.Pix[0] = 1
	for range 4000 {
		augmentPixels(&cfg, rng, a, b)
		if a.Pix[0] == 0 {
			flips++
			flipHorizontal(a)
		}
	}
	if p := float64(flips) / 4000; math.Abs(p-0.5) > 0.03 {
		t.Errorf("flip rate %.3f, want 0.5", p)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"ImageSize", func(c *Config) { c.ImageSize = 0 }},
		{"ResizeSize", func(c *Config) { c.ResizeSize = 100 }},
		{"Scale", func(c *Config) { c.RandomResizedCrop, c.Scale = true, [2]float64{0.5, 0.1} }},
		{"Jitter.Hue", func(c *Config) { c.Jitter.Hue = 0.6 }},
		{"OnBadImage", func(c *Config) { c.OnBadImage = "ignore" }},
		{"BatchSize", func(c *Config) { c.BatchSize = 0 }},
		{"FlipP", func(c *Config) { c.FlipP = 2 }},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.name)) {
			t.Errorf("%s: error %v should name the field", tt.name, err)
		}
	}
	if _, err := NewTrain(context.Background(), nil, DefaultConfig(), 0); err == nil {
		t.Error("no records: no error")
	}
}

// TestScaledDecode measures what reduced-scale JPEG decoding (libjpeg-turbo builds) changes: a
// 1600×1200 photo-like JPEG through the eval transforms (Resize(256) + CenterCrop(224): decoded at
// 1/4 scale) and through RandomResizedCrop, with and without ScaledDecode. DCT-domain scaling is a
// box-like prefilter where PIL's antialiased bilinear filter sees every pixel, so the results
// differ slightly: tolerance mean absolute difference <= 1 and max <= 32 in 0..255 units (measured:
// means 0.4-0.8, max 21).
func TestScaledDecode(t *testing.T) {
	if !turboJPEG {
		t.Skip("reduced-scale decoding needs libjpeg-turbo (not built with the tag noturbojpeg)")
	}
	src := testImage(1600, 1200, 8)
	data := encodeJPEG(t, src)
	cfg := DefaultConfig()
	cfg.ResizeSize, cfg.ImageSize = 256, 224
	full, scaled := cfg, cfg
	full.ScaledDecode = false
	if hdr, _ := readHeader(data, 0); decodeScale(evalGeometry(&cfg, hdr.w, hdr.h)) != 4 {
		t.Fatal("expected decoding at 1/4 scale")
	}
	check := func(name string, a, b []uint8) {
		ma, mb := &RGB{Pix: a, W: 224, H: 224}, &RGB{Pix: b, W: 224, H: 224}
		maxAbs, _ := diffStats(ma, mb)
		mean := meanAbsDiff(ma, mb)
		t.Logf("%s: scaled vs full decode: mean abs diff %.3f, max %d", name, mean, maxAbs)
		if mean > 1 || maxAbs > 32 {
			t.Errorf("%s: mean abs diff %.3f, max %d; want <= 1 and <= 32", name, mean, maxAbs)
		}
	}
	var lf, ls loader
	lf.cfg, ls.cfg = full, scaled
	a, err := lf.process(data, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ls.process(data, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("eval", a, b)
	lf.cfg.RandomResizedCrop, ls.cfg.RandomResizedCrop = true, true
	lf.cfg.RotationDegrees, ls.cfg.RotationDegrees = 0, 0
	lf.cfg.Jitter, ls.cfg.Jitter = Jitter{}, Jitter{}
	for i := range 5 {
		a, err := lf.process(data, "", true, sampleRNG(1, 0, i))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ls.process(data, "", true, sampleRNG(1, 0, i))
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("RandomResizedCrop %d", i), a, b)
	}
}
