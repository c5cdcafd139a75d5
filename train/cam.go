package train

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// CAMOverlay draws a class activation map over an image: img is size×size×3 RGB in 0..255 (row-major),
// cam is h×w (row-major). The map is min-max normalised, bilinearly upsampled (half-pixel centres),
// coloured with the jet colour map and blended at alpha over the image. It returns a PNG.
func CAMOverlay(img []float32, size int, cam []float32, h, w int, alpha float64) ([]byte, error) {
	if len(img) != size*size*3 || len(cam) != h*w || h == 0 || w == 0 {
		return nil, fmt.Errorf("cam overlay: image of %d values for size %d, map of %d values for %d×%d", len(img), size, len(cam), h, w)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range cam {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	span := hi - lo
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		span = 1
	}
	at := func(y, x int) float64 {
		y = min(max(y, 0), h-1)
		x = min(max(x, 0), w-1)
		return (float64(cam[y*w+x]) - lo) / span
	}
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		fy := (float64(y)+0.5)*float64(h)/float64(size) - 0.5
		y0 := int(math.Floor(fy))
		dy := fy - float64(y0)
		for x := range size {
			fx := (float64(x)+0.5)*float64(w)/float64(size) - 0.5
			x0 := int(math.Floor(fx))
			dx := fx - float64(x0)
			v := (1-dy)*((1-dx)*at(y0, x0)+dx*at(y0, x0+1)) + dy*((1-dx)*at(y0+1, x0)+dx*at(y0+1, x0+1))
			jr, jg, jb := jet(v)
			i := (y*size + x) * 3
			mix := func(a float32, b float64) uint8 {
				return uint8(math.Round(math.Min(math.Max((1-alpha)*float64(a)+alpha*255*b, 0), 255)))
			}
			out.SetRGBA(x, y, color.RGBA{mix(img[i], jr), mix(img[i+1], jg), mix(img[i+2], jb), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, out); err != nil {
		return nil, fmt.Errorf("cam overlay: %w", err)
	}
	return b.Bytes(), nil
}

// jet is MATLAB's jet colour map at v in [0, 1].
func jet(v float64) (r, g, b float64) {
	clamp := func(x float64) float64 { return math.Min(math.Max(x, 0), 1) }
	r = clamp(1.5 - math.Abs(4*v-3))
	g = clamp(1.5 - math.Abs(4*v-2))
	b = clamp(1.5 - math.Abs(4*v-1))
	return
}
