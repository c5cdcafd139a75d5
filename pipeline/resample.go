package pipeline

import (
	"image"
	"math"
)

// This file is PIL's bilinear resampling (libImaging/Resample.c, ImagingResample with the
// BILINEAR filter on 8-bit images), which is what torchvision's Resize, CenterCrop+Resize and
// RandomResizedCrop do to PIL images: a separable two-pass convolution, horizontal first, with a
// triangle filter whose support grows with the downscale factor (antialiasing), coefficients in
// 22-bit fixed point and rounding to 8 bits after each pass. The arithmetic is reproduced step by
// step so that results equal PIL's to the bit.

const precisionBits = 32 - 8 - 2

// coeffs are the fixed-point filter taps of one output line: out[i] = Σ k[i][t]·in[lo[i]+t].
type coeffs struct {
	lo, n []int   // first input sample and tap count for each output sample
	k     []int32 // ksize taps per output sample
	ksize int
}

// precomputeCoeffs is PIL's precompute_coeffs followed by normalize_coeffs_8bpc, for output samples
// first..first+count-1 of outSize. in0 and in1 are the source box, in PIL's float precision.
func precomputeCoeffs(inSize int, in0, in1 float32, outSize, first, count int) coeffs {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale // bilinear support is 1
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{lo: make([]int, count), n: make([]int, count), k: make([]int32, count*ksize), ksize: ksize}
	w := make([]float64, ksize)
	for i := 0; i < count; i++ {
		xx := first + i
		center := float64(in0) + (float64(xx)+0.5)*scale
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5) // C truncation toward zero; PIL clamps below at 0
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			w[x] = v
			ww += v
		}
		k := c.k[i*ksize : (i+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.lo[i], c.n[i] = xmin, xmax
	}
	return c
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// clip8 is PIL's clip8: the fixed-point sum shifted down and clamped to 0..255.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeSpec describes one PIL resize, possibly only partly computed.
type resizeSpec struct {
	region     image.Rectangle // the part of the source treated as the whole input image (PIL's im after a crop)
	box        [4]float32      // PIL's box argument, relative to region: x0, y0, x1, y1
	outW, outH int             // PIL's size argument
	win        image.Rectangle // the part of the outW×outH result that is wanted (a crop of it)
}

// resample computes spec.win of PIL's region.resize((outW, outH), BILINEAR, box) into dst, which
// must hold win.Dx()*win.Dy()*3 bytes. Computing only the window gives the same pixels as resizing
// the whole image and cropping afterwards, because every output pixel has its own taps. tmp is
// scratch space, grown as needed and returned for reuse.
func resample(dst []uint8, src *RGB, spec resizeSpec, tmp []uint8) []uint8 {
	inW, inH := spec.region.Dx(), spec.region.Dy()
	box := spec.box
	win := spec.win
	ww, wh := win.Dx(), win.Dy()
	needH := spec.outW != inW || box[0] != 0 || box[2] != float32(spec.outW)
	needV := spec.outH != inH || box[1] != 0 || box[3] != float32(spec.outH)

	// Vertical taps first: they say which source rows the horizontal pass must produce.
	var cv coeffs
	y0, y1 := win.Min.Y, win.Max.Y // source rows (relative to region) needed by the vertical pass
	if needV {
		cv = precomputeCoeffs(inH, box[1], box[3], spec.outH, win.Min.Y, wh)
		y0 = cv.lo[0]
		y1 = cv.lo[wh-1] + cv.n[wh-1]
		for i := range cv.lo {
			if cv.lo[i] < y0 {
				y0 = cv.lo[i]
			}
			if e := cv.lo[i] + cv.n[i]; e > y1 {
				y1 = e
			}
		}
	}
	rows := y1 - y0

	// Horizontal pass into tmp (rows × ww), or a plain copy of the window columns.
	if cap(tmp) < rows*ww*3 {
		tmp = make([]uint8, rows*ww*3)
	}
	tmp = tmp[:rows*ww*3]
	stride := src.W * 3
	ox, oy := spec.region.Min.X, spec.region.Min.Y
	if needH {
		ch := precomputeCoeffs(inW, box[0], box[2], spec.outW, win.Min.X, ww)
		horizontalPass(tmp, src.Pix, stride, ox, oy+y0, rows, ww, ch)
	} else {
		for r := 0; r < rows; r++ {
			s := (oy+y0+r)*stride + (ox+win.Min.X)*3
			copy(tmp[r*ww*3:(r+1)*ww*3], src.Pix[s:s+ww*3])
		}
	}

	if !needV {
		copy(dst[:ww*wh*3], tmp)
		return tmp
	}
	verticalPass(dst, tmp, ww, wh, y0, cv)
	return tmp
}

func horizontalPass(tmp, pix []uint8, stride, ox, oy, rows, ww int, c coeffs) {
	const half = 1 << (precisionBits - 1)
	for r := 0; r < rows; r++ {
		in := pix[(oy+r)*stride : (oy+r+1)*stride]
		out := tmp[r*ww*3 : (r+1)*ww*3]
		for xx := 0; xx < ww; xx++ {
			k := c.k[xx*c.ksize : xx*c.ksize+c.n[xx]]
			s := in[(ox+c.lo[xx])*3:]
			o := out[3*xx : 3*xx+3]
			switch len(k) {
			case 2:
				s = s[:6]
				k0, k1 := k[0], k[1]
				o[0] = clip8(half + int32(s[0])*k0 + int32(s[3])*k1)
				o[1] = clip8(half + int32(s[1])*k0 + int32(s[4])*k1)
				o[2] = clip8(half + int32(s[2])*k0 + int32(s[5])*k1)
			case 3:
				s = s[:9]
				k0, k1, k2 := k[0], k[1], k[2]
				o[0] = clip8(half + int32(s[0])*k0 + int32(s[3])*k1 + int32(s[6])*k2)
				o[1] = clip8(half + int32(s[1])*k0 + int32(s[4])*k1 + int32(s[7])*k2)
				o[2] = clip8(half + int32(s[2])*k0 + int32(s[5])*k1 + int32(s[8])*k2)
			default:
				s = s[:len(k)*3]
				var s0, s1, s2 int32 = half, half, half
				for t, kt := range k {
					s0 += int32(s[3*t]) * kt
					s1 += int32(s[3*t+1]) * kt
					s2 += int32(s[3*t+2]) * kt
				}
				o[0], o[1], o[2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
	}
}

func verticalPass(dst, tmp []uint8, ww, wh, y0 int, c coeffs) {
	const half = 1 << (precisionBits - 1)
	rowLen := ww * 3
	var acc []int32
	for yy := 0; yy < wh; yy++ {
		k := c.k[yy*c.ksize : yy*c.ksize+c.n[yy]]
		base := (c.lo[yy] - y0) * rowLen
		out := dst[yy*rowLen : (yy+1)*rowLen]
		row := func(t int) []uint8 { return tmp[base+t*rowLen : base+(t+1)*rowLen][:len(out)] }
		switch len(k) {
		case 1:
			r0, k0 := row(0), k[0]
			for x := range out {
				out[x] = clip8(half + int32(r0[x])*k0)
			}
		case 2:
			r0, r1, k0, k1 := row(0), row(1), k[0], k[1]
			for x := range out {
				out[x] = clip8(half + int32(r0[x])*k0 + int32(r1[x])*k1)
			}
		case 3:
			r0, r1, r2, k0, k1, k2 := row(0), row(1), row(2), k[0], k[1], k[2]
			for x := range out {
				out[x] = clip8(half + int32(r0[x])*k0 + int32(r1[x])*k1 + int32(r2[x])*k2)
			}
		default: // downscaling by more than 1.5: accumulate whole rows
			if acc == nil {
				acc = make([]int32, rowLen)
			}
			for x := range acc {
				acc[x] = half
			}
			for t, kt := range k {
				r := row(t)
				for x, v := range r {
					acc[x] += int32(v) * kt
				}
			}
			for x, s := range acc {
				out[x] = clip8(s)
			}
		}
	}
}

// resizeRGB returns the window win of region (a sub-image of src, as if cropped first) resized to
// w×h: torchvision's F.resized_crop, and with region the whole image F.resize.
func resizeRGB(src *RGB, region image.Rectangle, w, h int, win image.Rectangle) *RGB {
	out := NewRGB(win.Dx(), win.Dy())
	resample(out.Pix, src, resizeSpec{
		region: region,
		box:    [4]float32{0, 0, float32(region.Dx()), float32(region.Dy())},
		outW:   w, outH: h, win: win,
	}, nil)
	return out
}
