package pipeline

import (
	"image"
	"math"
	"math/rand/v2"
	"strconv"
)

// resizedSize is torchvision's _compute_resized_output_size for Resize(size) with an int size: the
// shorter side becomes size and the longer one int(size * long / short).
func resizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// EvalCrop is the geometry of the evaluation transforms, Resize(resize) + CenterCrop(size), for a w×h
// image: the resized image's size and the crop within it, in resized pixels. Code that maps a model's
// output back onto the original image (class activation maps) uses it so that it agrees with the
// pixels the model saw.
func EvalCrop(w, h, resize, size int) (rw, rh int, crop image.Rectangle) {
	rw, rh = resizedSize(w, h, resize)
	return rw, rh, centerCropRect(rw, rh, size, size)
}

// centerCropRect is torchvision's F.center_crop offset rule, int(round((h - th) / 2.0)) with
// Python's round (half to even), for a crop that fits.
func centerCropRect(w, h, tw, th int) image.Rectangle {
	top := int(math.RoundToEven(float64(h-th) / 2))
	left := int(math.RoundToEven(float64(w-tw) / 2))
	return image.Rect(left, top, left+tw, top+th)
}

// randomCropRect is transforms.RandomCrop.get_params: a uniform offset for a tw×th crop of w×h.
func randomCropRect(rng *rand.Rand, w, h, tw, th int) image.Rectangle {
	top := rng.IntN(h - th + 1)
	left := rng.IntN(w - tw + 1)
	return image.Rect(left, top, left+tw, top+th)
}

// randomResizedCropRect is transforms.RandomResizedCrop.get_params: ten tries of an area fraction
// uniform in scale and an aspect ratio log-uniform in ratio, then the central crop fallback.
func randomResizedCropRect(rng *rand.Rand, w, h int, scale, ratio [2]float64) image.Rectangle {
	area := float64(w * h)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		aspect := math.Exp(uniform(rng, logLo, logHi))
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			top := rng.IntN(h - ch + 1)
			left := rng.IntN(w - cw + 1)
			return image.Rect(left, top, left+cw, top+ch)
		}
	}
	inRatio := float64(w) / float64(h)
	cw, ch := w, h
	switch {
	case inRatio < math.Min(ratio[0], ratio[1]):
		ch = int(math.RoundToEven(float64(cw) / math.Min(ratio[0], ratio[1])))
	case inRatio > math.Max(ratio[0], ratio[1]):
		cw = int(math.RoundToEven(float64(ch) * math.Max(ratio[0], ratio[1])))
	}
	top, left := (h-ch)/2, (w-cw)/2
	return image.Rect(left, top, left+cw, top+ch)
}

// uniform is torch's uniform_(lo, hi): lo + (hi-lo)·u with u in [0, 1).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// flipHorizontal mirrors m in place (PIL's FLIP_LEFT_RIGHT).
func flipHorizontal(m *RGB) {
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.W*3 : (y+1)*m.W*3]
		for l, r := 0, m.W-1; l < r; l, r = l+1, r-1 {
			row[3*l], row[3*r] = row[3*r], row[3*l]
			row[3*l+1], row[3*r+1] = row[3*r+1], row[3*l+1]
			row[3*l+2], row[3*r+2] = row[3*r+2], row[3*l+2]
		}
	}
}

// rotate writes into dst (same size as src) PIL's src.rotate(angle, NEAREST, expand=False,
// fillcolor=fill): a counter-clockwise rotation by angle degrees about the image centre
// (w/2, h/2), nearest-neighbour sampling, and fill where the source is outside the image. This is
// torchvision's F.rotate / RandomRotation on PIL images. PIL's shortcuts for multiples of 90° and
// its 16.16 fixed-point affine loop (Geometry.c, affine_fixed) are reproduced so the result is
// PIL's to the pixel.
func rotate(dst, src *RGB, angle float64, fill [3]uint8) {
	w, h := src.W, src.H
	angle = math.Mod(angle, 360) // Python's % 360: the result takes the divisor's sign
	if angle < 0 {
		angle += 360
	}
	switch {
	case angle == 0:
		copy(dst.Pix, src.Pix)
		return
	case angle == 180:
		transpose(dst, src, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y })
		return
	case angle == 90 && w == h:
		transpose(dst, src, func(x, y int) (int, int) { return w - 1 - y, x })
		return
	case angle == 270 && w == h:
		transpose(dst, src, func(x, y int) (int, int) { return y, h - 1 - x })
		return
	}
	rad := -angle * math.Pi / 180
	a := [6]float64{round15(math.Cos(rad)), round15(math.Sin(rad)), 0, round15(-math.Sin(rad)), round15(math.Cos(rad)), 0}
	cx, cy := float64(w)/2, float64(h)/2
	a[2] = a[0]*-cx + a[1]*-cy + a[2]
	a[5] = a[3]*-cx + a[4]*-cy + a[5]
	a[2] += cx
	a[5] += cy

	for i := 0; i < len(dst.Pix); i += 3 {
		dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = fill[0], fill[1], fill[2]
	}
	if !(fixedOK(a, 0, 0) && fixedOK(a, w, h) && fixedOK(a, 0, h) && fixedOK(a, w, 0)) {
		rotateFloat(dst, src, a)
		return
	}
	fix := func(v float64) int32 { return int32(pilFloor(v*65536 + 0.5)) }
	a0, a1, a3, a4 := fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4])
	a2 := fix(a[2] + a[0]*0.5 + a[1]*0.5)
	a5 := fix(a[5] + a[3]*0.5 + a[4]*0.5)
	pix := src.Pix
	for y := 0; y < h; y++ {
		xx, yy := a2, a5
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			xin, yin := int(xx>>16), int(yy>>16)
			if uint(xin) < uint(w) && uint(yin) < uint(h) {
				s := (yin*w + xin) * 3
				sp, o := pix[s:s+3:s+3], out[3*x:3*x+3:3*x+3]
				o[0], o[1], o[2] = sp[0], sp[1], sp[2]
			}
			xx += a0
			yy += a3
		}
		a2 += a1
		a5 += a4
	}
}

// rotateFloat is PIL's floating-point affine loop, used when coordinates leave 16.16's range.
func rotateFloat(dst, src *RGB, a [6]float64) {
	w, h := src.W, src.H
	xo := a[2] + a[1]*0.5 + a[0]*0.5
	yo := a[5] + a[4]*0.5 + a[3]*0.5
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	for y := 0; y < h; y++ {
		xx, yy := xo, yo
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			xin, yin := coord(xx), coord(yy)
			if xin >= 0 && xin < w && yin >= 0 && yin < h {
				s := (yin*w + xin) * 3
				out[3*x], out[3*x+1], out[3*x+2] = src.Pix[s], src.Pix[s+1], src.Pix[s+2]
			}
			xx += a[0]
			yy += a[3]
		}
		xo += a[1]
		yo += a[4]
	}
}

func fixedOK(a [6]float64, x, y int) bool {
	fx, fy := float64(x), float64(y)
	return math.Abs(fx*a[0]+fy*a[1]+a[2]) < 32768 && math.Abs(fx*a[3]+fy*a[4]+a[5]) < 32768
}

// pilFloor is PIL's FLOOR macro: floor for negatives, truncation otherwise.
func pilFloor(v float64) float64 {
	if v < 0 {
		return math.Floor(v)
	}
	return math.Trunc(v)
}

// round15 is Python's round(v, 15), which rounds the exact binary value to 15 decimals.
func round15(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 15, 64), 64)
	return r
}

// transpose sets dst(x, y) = src(from(x, y)) for same-size images.
func transpose(dst, src *RGB, from func(x, y int) (int, int)) {
	for y := 0; y < dst.H; y++ {
		for x := 0; x < dst.W; x++ {
			sx, sy := from(x, y)
			d, s := (y*dst.W+x)*3, (sy*src.W+sx)*3
			dst.Pix[d], dst.Pix[d+1], dst.Pix[d+2] = src.Pix[s], src.Pix[s+1], src.Pix[s+2]
		}
	}
}
