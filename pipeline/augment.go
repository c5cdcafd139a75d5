package pipeline

import (
	"image"
	"math"
	"math/rand/v2"
)

// geometry says which part of the source image becomes the network input: region (in original
// pixels) is resized to outW×outH, of which win is kept. All three crops reduce to this: Resize +
// RandomCrop and Resize + CenterCrop keep the whole image as region and crop with win;
// RandomResizedCrop crops with region and keeps the whole output.
type geometry struct {
	region     image.Rectangle
	outW, outH int
	win        image.Rectangle
}

// trainGeometry draws the crop of the train transforms for a w×h image.
func trainGeometry(c *Config, rng *rand.Rand, w, h int) geometry {
	s := c.ImageSize
	if c.RandomResizedCrop {
		r := randomResizedCropRect(rng, w, h, c.Scale, c.Ratio)
		return geometry{region: r, outW: s, outH: s, win: image.Rect(0, 0, s, s)}
	}
	rw, rh := resizedSize(w, h, c.ResizeSize)
	return geometry{region: image.Rect(0, 0, w, h), outW: rw, outH: rh, win: randomCropRect(rng, rw, rh, s, s)}
}

// evalGeometry is Resize(ResizeSize) + CenterCrop(ImageSize) for a w×h image.
func evalGeometry(c *Config, w, h int) geometry {
	rw, rh, win := EvalCrop(w, h, c.ResizeSize, c.ImageSize)
	return geometry{region: image.Rect(0, 0, w, h), outW: rw, outH: rh, win: win}
}

// decodeScale is the JPEG scale denominator (1, 2, 4 or 8) for g: the largest reduction that
// still leaves the region at least as large as what it is resized to.
func decodeScale(g geometry) int {
	for _, d := range []int{8, 4, 2} {
		if g.region.Dx() >= d*g.outW && g.region.Dy() >= d*g.outH {
			return d
		}
	}
	return 1
}

// render resizes and crops img, a decoding of a w×h image, possibly at reduced scale, into dst
// (win.Dx()·win.Dy()·3 bytes). At full scale this is exactly torchvision's transform on the PIL
// image; at reduced scale the region's coordinates are scaled and PIL's resize with a fractional
// box does the rest.
func render(dst []uint8, img *RGB, w, h int, g geometry, tmp []uint8) []uint8 {
	spec := resizeSpec{outW: g.outW, outH: g.outH, win: g.win}
	if img.W == w && img.H == h {
		spec.region = g.region
		spec.box = [4]float32{0, 0, float32(g.region.Dx()), float32(g.region.Dy())}
		return resample(dst, img, spec, tmp)
	}
	sx, sy := float64(img.W)/float64(w), float64(img.H)/float64(h)
	x0, y0 := float64(g.region.Min.X)*sx, float64(g.region.Min.Y)*sy
	x1, y1 := float64(g.region.Max.X)*sx, float64(g.region.Max.Y)*sy
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Intersect(img.Bounds())
	spec.region = r
	spec.box = [4]float32{float32(x0 - float64(r.Min.X)), float32(y0 - float64(r.Min.Y)),
		float32(min(x1, float64(r.Max.X)) - float64(r.Min.X)), float32(min(y1, float64(r.Max.Y)) - float64(r.Min.Y))}
	return resample(dst, img, spec, tmp)
}

// sampleRNG is the random source of one image in one epoch: it depends on nothing else, so the
// augmentation of an image is the same whichever worker processes it and whenever.
func sampleRNG(seed uint64, epoch, index int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed, uint64(epoch)), mix64(uint64(index), 0x4155474d))) // "AUGM"
}

// augmentPixels applies the random flip, rotation and colour jitter of the train transforms to m
// in place, drawing from rng in torchvision's order. spare is a scratch image of m's size.
func augmentPixels(c *Config, rng *rand.Rand, m, spare *RGB) {
	if rng.Float64() < c.FlipP { // RandomHorizontalFlip: torch.rand(1) < p
		flipHorizontal(m)
	}
	if c.RotationDegrees > 0 {
		angle := uniform(rng, -c.RotationDegrees, c.RotationDegrees)
		rotate(spare, m, angle, c.Fill)
		m.Pix, spare.Pix = spare.Pix, m.Pix
	}
	j := c.Jitter
	if j.Brightness == 0 && j.Contrast == 0 && j.Saturation == 0 && j.Hue == 0 {
		return
	}
	// ColorJitter.get_params: a random order of the four, then each factor (None when off).
	order := rng.Perm(4)
	factor := func(v float64) float64 {
		if v == 0 {
			return math.NaN()
		}
		return uniform(rng, max(0, 1-v), 1+v)
	}
	b, ct, s := factor(j.Brightness), factor(j.Contrast), factor(j.Saturation)
	h := math.NaN()
	if j.Hue != 0 {
		h = uniform(rng, -j.Hue, j.Hue)
	}
	for _, op := range order {
		switch {
		case op == 0 && !math.IsNaN(b):
			adjustBrightness(m, b)
		case op == 1 && !math.IsNaN(ct):
			adjustContrast(m, ct)
		case op == 2 && !math.IsNaN(s):
			adjustSaturation(m, s)
		case op == 3 && !math.IsNaN(h):
			adjustHue(m, h)
		}
	}
}

// toFloat writes the samples of pix as float32 into dst.
func toFloat(dst []float32, pix []uint8) {
	dst = dst[:len(pix)]
	for i, v := range pix {
		dst[i] = float32(v)
	}
}

// EvalImage applies the eval transforms (Resize(ResizeSize) + CenterCrop(ImageSize)) to img and
// returns ImageSize×ImageSize×3 float32 RGB values in 0..255 (HWC), the per-image slice of an
// eval batch. The prediction command and SavedModel checks use it to preprocess exactly as
// evaluation does.
func EvalImage(img image.Image, cfg Config) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := ToRGB(img)
	g := evalGeometry(&cfg, m.W, m.H)
	pix := make([]uint8, g.win.Dx()*g.win.Dy()*3)
	render(pix, m, m.W, m.H, g, nil)
	out := make([]float32, len(pix))
	toFloat(out, pix)
	return out, nil
}

// EvalEncoded decodes an encoded image (JPEG, PNG, GIF, BMP, WebP) under cfg's pixel limit and applies the
// eval transforms, with reduced-scale JPEG decoding when cfg allows it: the same path as the eval
// pipeline. Errors are *BadImageError.
func EvalEncoded(data []byte, cfg Config) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var l loader
	l.cfg = cfg
	pix, err := l.process(data, "", false, nil)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(pix))
	toFloat(out, pix)
	return out, nil
}
