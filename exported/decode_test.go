package exported

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
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
