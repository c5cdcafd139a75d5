package exported

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"golang.org/x/image/bmp"

	"github.com/finegrain/finegrain/pipeline"
)

func randomPNG(t *testing.T, rng *rand.Rand, w, h int) ([]byte, *image.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), img
}

// TestDecodeBatchIdentityResize feeds images whose shorter side already is the resize size, so the
// in-graph transform is a pure centre crop and must reproduce the pixels exactly.
func TestDecodeBatchIdentityResize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := Preprocess{ResizeSize: 8, ImageSize: 6}
	g := tf.NewGraph()
	s := op.NewScopeWithGraph(g)
	data := op.Placeholder(s.SubScope("data"), tf.String, op.PlaceholderShape(tf.MakeShape(-1)))
	out, err := decodeBatch(g, "jpeg", data, p)
	if err != nil {
		t.Fatal(err)
	}
	sizes := [][2]int{{8, 8}, {8, 11}, {13, 8}}
	var encoded []string
	var imgs []*image.RGBA
	for _, wh := range sizes {
		b, img := randomPNG(t, rng, wh[0], wh[1])
		encoded = append(encoded, string(b))
		imgs = append(imgs, img)
	}
	in, _ := tf.NewTensor(encoded)
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	res, err := sess.Run(map[tf.Output]*tf.Tensor{data: in}, []tf.Output{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res[0].Value().([][][][]float32)
	if len(got) != len(sizes) {
		t.Fatalf("batch %d, want %d", len(got), len(sizes))
	}
	for n, img := range imgs {
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		// torchvision's int(round(excess / 2)), halves to even.
		top, left := int(math.RoundToEven(float64(h-6)/2)), int(math.RoundToEven(float64(w-6)/2))
		for y := 0; y < 6; y++ {
			for x := 0; x < 6; x++ {
				c := img.RGBAAt(left+x, top+y)
				want := []float32{float32(c.R), float32(c.G), float32(c.B)}
				for k := range want {
					if got[n][y][x][k] != want[k] {
						t.Fatalf("image %d (%dx%d) pixel (%d,%d,%d) = %v, want %v", n, w, h, y, x, k, got[n][y][x][k], want[k])
					}
				}
			}
		}
	}
}

// smoothImage is a photograph-like random image: smooth colour fields, so that JPEG coding error and
// resampling differences stay in the range real images show.
func smoothImage(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var c [3][4]float64
	for k := range c {
		for j := range c[k] {
			c[k][j] = rng.Float64()
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			var px [3]uint8
			for k := range px {
				f := 0.5 + 0.25*math.Sin(6*c[k][0]*u+4*c[k][1]*v+6*c[k][2]) + 0.25*math.Cos(9*c[k][3]*u*v)
				px[k] = uint8(math.Round(255 * math.Min(1, math.Max(0, f))))
			}
			img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	return img
}

// runDecode runs decodeBatch on encoded images and returns the flattened [N, S, S, 3] result.
func runDecode(t *testing.T, p Preprocess, encoded [][]byte) [][]float32 {
	t.Helper()
	g := tf.NewGraph()
	s := op.NewScopeWithGraph(g)
	data := op.Placeholder(s.SubScope("data"), tf.String, op.PlaceholderShape(tf.MakeShape(-1)))
	out, err := decodeBatch(g, "jpeg", data, p)
	if err != nil {
		t.Fatal(err)
	}
	in, err := stringTensor(encoded)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	res, err := sess.Run(map[tf.Output]*tf.Tensor{data: in}, []tf.Output{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]float32
	for _, img := range res[0].Value().([][][][]float32) {
		var row []float32
		for _, r := range img {
			for _, px := range r {
				row = append(row, px...)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestDecodeMatchesEvalPipeline compares predict_jpeg's in-graph preprocessing with the Go evaluation
// pipeline (pipeline.EvalEncoded: PIL-exact decode, antialiased bilinear resize, centre crop) on PNG
// and JPEG images that are scaled down, scaled up and left at size.
func TestDecodeMatchesEvalPipeline(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := Preprocess{ResizeSize: 73, ImageSize: 64}
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize, cfg.ScaledDecode = p.ImageSize, p.ResizeSize, false
	for _, format := range []string{"png", "jpeg"} {
		var encoded [][]byte
		sizes := [][2]int{{73, 73}, {73, 100}, {300, 200}, {161, 413}, {50, 60}, {640, 480}}
		for _, wh := range sizes {
			var buf bytes.Buffer
			img := smoothImage(rng, wh[0], wh[1])
			var err error
			if format == "png" {
				err = png.Encode(&buf, img)
			} else {
				err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
			}
			if err != nil {
				t.Fatal(err)
			}
			encoded = append(encoded, buf.Bytes())
		}
		got := runDecode(t, p, encoded)
		for i, b := range encoded {
			want, err := pipeline.EvalEncoded(b, cfg)
			if err != nil {
				t.Fatal(err)
			}
			worst, sum := 0.0, 0.0
			for j := range want {
				d := math.Abs(float64(got[i][j] - want[j]))
				worst, sum = math.Max(worst, d), sum+d
			}
			mean := sum / float64(len(want))
			t.Logf("%s %dx%d: in-graph vs pipeline max |diff| %.2f, mean %.3f (0..255)", format, sizes[i][0], sizes[i][1], worst, mean)
			// PNG: the same pixels, resampled with PIL's two 8-bit passes; float32 weights against PIL's
			// 22-bit fixed point flip a rounding now and then. JPEG adds the decoders' differences
			// (libjpeg-turbo in TensorFlow, Go's decoder with libjpeg-style upsampling in the pipeline).
			maxTol, meanTol := 1.0, 0.01
			if format == "jpeg" {
				maxTol, meanTol = 3, 0.05
			}
			if worst > maxTol || mean > meanTol {
				t.Errorf("%s %dx%d: in-graph preprocessing differs from the pipeline by max %.2f, mean %.3f (want <= %g, %g)", format, sizes[i][0], sizes[i][1], worst, mean, maxTol, meanTol)
			}
		}
	}
}

// TestDecodeBatchFormats pins down which formats predict_jpeg's in-graph decoder reads, so that no
// documentation can claim more: JPEG, PNG and a single-frame GIF decode; BMP, WebP and an animated
// GIF are errors. (cmd/predict decodes every format of pipeline.Formats in Go instead; before, it
// collected .bmp files and every one of them failed here.)
func TestDecodeBatchFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	img := smoothImage(rng, 20, 16)
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	pal := image.NewPaletted(img.Bounds(), palette.Plan9)
	anim := enc(func(b *bytes.Buffer) error {
		return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{1, 1}})
	})
	// A 2x2 lossless WebP of one colour, as PIL writes it.
	webp := []byte("RIFF\x1e\x00\x00\x00WEBPVP8L\x11\x00\x00\x00\x2f\x01\x40\x00\x00\x07\x50\xb2\x22\x57\xa6\xff\x81\x88\xe8\x7f\x00\x00")
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"jpeg", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) }), true},
		{"png", enc(func(b *bytes.Buffer) error { return png.Encode(b, img) }), true},
		{"gif", enc(func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) }), true},
		{"bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, img) }), false},
		{"webp", webp, false},
		{"animated gif", anim, false},
	}
	p := Preprocess{ResizeSize: 16, ImageSize: 16}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryDecode(p, [][]byte{tt.data})
			if (err == nil) != tt.ok {
				t.Errorf("in-graph decode: error %v, want ok=%v", err, tt.ok)
			}
			// The Go pipeline, which cmd/predict uses, reads them all (an animated GIF's first frame).
			cfg := pipeline.DefaultConfig()
			cfg.ImageSize, cfg.ResizeSize = 2, 2
			if _, err := pipeline.EvalEncoded(tt.data, cfg); err != nil {
				t.Errorf("pipeline: %v", err)
			}
		})
	}
}

// tryDecode is runDecode returning the session's error instead of failing.
func tryDecode(p Preprocess, encoded [][]byte) ([][][][]float32, error) {
	g := tf.NewGraph()
	s := op.NewScopeWithGraph(g)
	data := op.Placeholder(s.SubScope("data"), tf.String, op.PlaceholderShape(tf.MakeShape(-1)))
	out, err := decodeBatch(g, "jpeg", data, p)
	if err != nil {
		return nil, err
	}
	in, err := stringTensor(encoded)
	if err != nil {
		return nil, err
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	res, err := sess.Run(map[tf.Output]*tf.Tensor{data: in}, []tf.Output{out}, nil)
	if err != nil {
		return nil, err
	}
	return res[0].Value().([][][][]float32), nil
}
