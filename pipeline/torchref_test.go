package pipeline

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// testImage returns a deterministic w×h image with smooth gradients, hard edges, saturated and
// gray areas and noise: every code path of the colour and geometry operations gets exercised.
func testImage(w, h int, seed uint64) *RGB {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := NewRGB(w, h)
	type disk struct {
		x, y, r float64
		c       [3]float64
	}
	disks := make([]disk, 6)
	for i := range disks {
		disks[i] = disk{rng.Float64() * float64(w), rng.Float64() * float64(h), 4 + rng.Float64()*float64(min(w, h))/3,
			[3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := [3]float64{255 * float64(x) / float64(w), 255 * float64(y) / float64(h), 128 + 100*math.Sin(float64(x+y)/7)}
			for _, d := range disks {
				if (float64(x)-d.x)*(float64(x)-d.x)+(float64(y)-d.y)*(float64(y)-d.y) < d.r*d.r {
					c = d.c
				}
			}
			if x < w/8 { // a gray band: saturation 0, hue undefined
				g := float64(y) * 255 / float64(h)
				c = [3]float64{g, g, g}
			}
			i := (y*w + x) * 3
			for k := range 3 {
				v := c[k] + rng.NormFloat64()*6
				m.Pix[i+k] = uint8(max(0, min(255, math.Round(v))))
			}
		}
	}
	return m
}

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readPNG(t testing.TB, path string) *RGB {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return ToRGB(img)
}

// torchOp is one call of torchvision.transforms.functional on a PIL image.
type torchOp struct {
	Src  string    `json:"src"` // input image name
	Name string    `json:"name"`
	Op   string    `json:"op"`
	Args []float64 `json:"args"`
}

// torchScript applies each op to input.png and writes <name>.png.
const torchScript = `
import json, sys
from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
ops, out = json.loads(sys.argv[1]), sys.argv[2]
for op in ops:
    img = Image.open(out + "/" + op["src"] + ".png").convert("RGB")
    a, o = op["args"], op["op"]
    if o == "resize":
        r = F.resize(img, int(a[0]))
    elif o == "center_crop":
        r = F.center_crop(img, [int(a[0]), int(a[1])])
    elif o == "resized_crop":
        r = F.resized_crop(img, int(a[0]), int(a[1]), int(a[2]), int(a[3]), [int(a[4]), int(a[5])])
    elif o == "resize_box":
        r = img.resize((int(a[0]), int(a[1])), Image.BILINEAR, box=tuple(a[2:6]))
    elif o == "eval":
        r = F.center_crop(F.resize(img, int(a[0])), [int(a[1]), int(a[1])])
    elif o == "hflip":
        r = F.hflip(img)
    elif o == "rotate":
        r = F.rotate(img, a[0], interpolation=InterpolationMode.NEAREST, expand=False, fill=[int(v) for v in a[1:4]])
    elif o == "brightness":
        r = F.adjust_brightness(img, a[0])
    elif o == "contrast":
        r = F.adjust_contrast(img, a[0])
    elif o == "saturation":
        r = F.adjust_saturation(img, a[0])
    elif o == "hue":
        r = F.adjust_hue(img, a[0])
    else:
        raise ValueError(o)
    r.save(out + "/" + op["name"] + ".png")
`

// runTorch writes the input images, runs ops through torchvision in one Python process and returns
// the results by op name.
func runTorch(t *testing.T, inputs map[string]*RGB, ops []torchOp) map[string]*RGB {
	t.Helper()
	py := pyref.Torch(t)
	dir := t.TempDir()
	for name, img := range inputs {
		writePNG(t, filepath.Join(dir, name+".png"), img)
	}
	spec, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	pyref.Run(t, py, torchScript, string(spec), dir)
	out := make(map[string]*RGB, len(ops))
	for _, op := range ops {
		out[op.Name] = readPNG(t, filepath.Join(dir, op.Name+".png"))
	}
	return out
}

// goOp applies the same operation with this package's code.
func goOp(img *RGB, op torchOp) (*RGB, error) {
	a := op.Args
	clone := func() *RGB { c := NewRGB(img.W, img.H); copy(c.Pix, img.Pix); return c }
	full := image.Rect(0, 0, img.W, img.H)
	switch op.Op {
	case "resize":
		w, h := resizedSize(img.W, img.H, int(a[0]))
		return resizeRGB(img, full, w, h, image.Rect(0, 0, w, h)), nil
	case "center_crop":
		r := centerCropRect(img.W, img.H, int(a[1]), int(a[0]))
		out := NewRGB(r.Dx(), r.Dy())
		resample(out.Pix, img, resizeSpec{region: r, box: [4]float32{0, 0, float32(r.Dx()), float32(r.Dy())}, outW: r.Dx(), outH: r.Dy(), win: image.Rect(0, 0, r.Dx(), r.Dy())}, nil)
		return out, nil
	case "resized_crop":
		r := image.Rect(int(a[1]), int(a[0]), int(a[1]+a[3]), int(a[0]+a[2]))
		w, h := int(a[5]), int(a[4])
		return resizeRGB(img, r, w, h, image.Rect(0, 0, w, h)), nil
	case "resize_box":
		w, h := int(a[0]), int(a[1])
		out := NewRGB(w, h)
		resample(out.Pix, img, resizeSpec{region: full, box: [4]float32{float32(a[2]), float32(a[3]), float32(a[4]), float32(a[5])}, outW: w, outH: h, win: image.Rect(0, 0, w, h)}, nil)
		return out, nil
	case "eval":
		cfg := DefaultConfig()
		cfg.ResizeSize, cfg.ImageSize = int(a[0]), int(a[1])
		v, err := EvalImage(img, cfg)
		if err != nil {
			return nil, err
		}
		out := NewRGB(cfg.ImageSize, cfg.ImageSize)
		for i, f := range v {
			out.Pix[i] = uint8(f)
		}
		return out, nil
	case "hflip":
		c := clone()
		flipHorizontal(c)
		return c, nil
	case "rotate":
		out := NewRGB(img.W, img.H)
		rotate(out, img, a[0], [3]uint8{uint8(a[1]), uint8(a[2]), uint8(a[3])})
		return out, nil
	case "brightness":
		c := clone()
		adjustBrightness(c, a[0])
		return c, nil
	case "contrast":
		c := clone()
		adjustContrast(c, a[0])
		return c, nil
	case "saturation":
		c := clone()
		adjustSaturation(c, a[0])
		return c, nil
	case "hue":
		c := clone()
		adjustHue(c, a[0])
		return c, nil
	}
	return nil, fmt.Errorf("unknown op %q", op.Op)
}

// diffStats returns the largest absolute difference and the fraction of differing samples.
func diffStats(a, b *RGB) (maxAbs int, frac float64) {
	n := 0
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		maxAbs = max(maxAbs, d)
	}
	return maxAbs, float64(n) / float64(len(a.Pix))
}

// TestTransformsMatchTorchvision compares every deterministic transform with
// torchvision.transforms.functional on PIL images (torchvision 0.14, PIL 9.4). Tolerance: 0, i.e.
// bit-identical, for all of them: resize reproduces PIL's fixed-point bilinear filter with
// antialiasing, rotation PIL's 16.16 nearest-neighbour affine loop, the jitter ops PIL's float
// blend and HSV code.
func TestTransformsMatchTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python with torchvision (several seconds)")
	}
	img := testImage(123, 87, 1)
	square := testImage(64, 64, 2)
	ops := []torchOp{
		{"img", "resize_up", "resize", []float64{150}},
		{"img", "resize_down", "resize", []float64{40}},
		{"img", "resize_down_odd", "resize", []float64{61}},
		{"img", "resize_same", "resize", []float64{87}},
		{"img", "center_crop_even", "center_crop", []float64{60, 80}},
		{"img", "center_crop_odd", "center_crop", []float64{61, 81}},
		{"img", "resized_crop_up", "resized_crop", []float64{10, 20, 30, 50, 64, 64}},
		{"img", "resized_crop_down", "resized_crop", []float64{5, 3, 80, 110, 33, 47}},
		{"img", "resize_box_float", "resize_box", []float64{50, 40, 3.25, 7.5, 101.75, 80.125}},
		{"img", "hflip", "hflip", nil},
		{"img", "eval_down", "eval", []float64{64, 56}},
		{"img", "eval_up", "eval", []float64{100, 91}},
		{"img", "rotate_15", "rotate", []float64{15, 0, 0, 0}},
		{"img", "rotate_m33", "rotate", []float64{-33.3, 10, 200, 30}},
		{"img", "rotate_180", "rotate", []float64{180, 0, 0, 0}},
		{"img", "rotate_400", "rotate", []float64{400, 1, 2, 3}},
		{"img", "brightness_lo", "brightness", []float64{0.6}},
		{"img", "brightness_hi", "brightness", []float64{1.4}},
		{"img", "contrast_lo", "contrast", []float64{0.55}},
		{"img", "contrast_hi", "contrast", []float64{1.45}},
		{"img", "saturation_lo", "saturation", []float64{0.3}},
		{"img", "saturation_hi", "saturation", []float64{1.7}},
		{"img", "hue_pos", "hue", []float64{0.1}},
		{"img", "hue_neg", "hue", []float64{-0.07}},
		{"img", "hue_half", "hue", []float64{0.5}},
		{"img", "hue_zero", "hue", []float64{0}},
	}
	squareOps := []torchOp{
		{"square", "rotate_90", "rotate", []float64{90, 0, 0, 0}},
		{"square", "rotate_270", "rotate", []float64{-90, 0, 0, 0}},
		{"square", "rotate_7", "rotate", []float64{7, 255, 255, 255}},
	}
	inputs := map[string]*RGB{"img": img, "square": square}
	ops = append(ops, squareOps...)
	want := runTorch(t, inputs, ops)
	for _, op := range ops {
		got, err := goOp(inputs[op.Src], op)
		if err != nil {
			t.Fatal(err)
		}
		w := want[op.Name]
		if got.W != w.W || got.H != w.H {
			t.Errorf("%s: size %dx%d, torchvision %dx%d", op.Name, got.W, got.H, w.W, w.H)
			continue
		}
		if d, frac := diffStats(got, w); d > 0 {
			t.Errorf("%s: max abs diff %d (%.2f%% of samples differ), want 0", op.Name, d, 100*frac)
		}
	}
}
