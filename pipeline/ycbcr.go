package pipeline

import "image"

// Go's image/jpeg returns JPEG pixels as *image.YCbCr with subsampled chroma. libjpeg (PIL's and
// TensorFlow's decoder) upsamples chroma with its "fancy" triangle filter and converts with its
// own fixed-point tables; this file does the same (jdsample.c h2v2/h2v1/h1v2_fancy_upsample,
// jdcolor.c ycc_rgb_convert), so the only remaining difference from libjpeg is the IDCT's
// rounding.

// yccTable holds libjpeg's YCbCr→RGB lookup tables (jdcolor.c, SCALEBITS 16) and a range-limit
// table: limit[v+limitOffset] is v clamped to 0..255.
type yccTable struct {
	crR, cbB, crG, cbG [256]int32
	limit              [1024]uint8
}

const limitOffset = 384

// yccTables is read-only after initialisation.
var yccTables = newYCCTable()

func newYCCTable() *yccTable {
	const scale = 16
	fix := func(x float64) int32 { return int32(x*(1<<scale) + 0.5) }
	t := new(yccTable)
	for i := range 256 {
		x := int32(i) - 128
		t.crR[i] = (fix(1.40200)*x + 1<<(scale-1)) >> scale
		t.cbB[i] = (fix(1.77200)*x + 1<<(scale-1)) >> scale
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + 1<<(scale-1)
	}
	for i := range t.limit {
		t.limit[i] = clampByte(int32(i - limitOffset))
	}
	return t
}

func clampByte(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// yccRow converts one row of full-resolution Y, Cb and Cr to RGB.
func yccRow(o, y, cb, cr []uint8) {
	t := yccTables
	cb, cr, o = cb[:len(y)], cr[:len(y)], o[:3*len(y)]
	for x, yv := range y {
		yy := int32(yv) + limitOffset
		b, r := cb[x], cr[x]
		p := o[3*x : 3*x+3 : 3*x+3]
		p[0] = t.limit[(yy+t.crR[r])&1023]
		p[1] = t.limit[(yy+(t.cbG[b]+t.crG[r])>>16)&1023]
		p[2] = t.limit[(yy+t.cbB[b])&1023]
	}
}

// ycbcrToRGB converts a decoded JPEG to RGB the way libjpeg does by default.
func ycbcrToRGB(out *RGB, m *image.YCbCr) {
	w, h := out.W, out.H
	b := m.Bounds()
	cw := (w + 1) / 2
	var hx, vy int // chroma subsampling: 2 where halved
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hx, vy = 1, 1
	case image.YCbCrSubsampleRatio422:
		hx, vy = 2, 1
	case image.YCbCrSubsampleRatio420:
		hx, vy = 2, 2
	case image.YCbCrSubsampleRatio440:
		hx, vy = 1, 2
	}
	if hx == 0 || (hx == 2 && cw <= 2) {
		// Subsamplings libjpeg has no fancy upsampler for, and images too narrow for it:
		// replicate chroma (libjpeg's plain upsampling).
		cb, cr := make([]uint8, w), make([]uint8, w)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				cb[x], cr[x] = m.Cb[ci], m.Cr[ci]
			}
			yi := m.YOffset(b.Min.X, b.Min.Y+y)
			yccRow(out.Pix[y*w*3:(y+1)*w*3], m.Y[yi:yi+w], cb, cr)
		}
		return
	}
	if hx == 1 {
		cw = w
	}
	ch := h
	if vy == 2 {
		ch = (h + 1) / 2
	}
	// Chroma rows as slices of the planes, relative to the image's origin.
	crow := func(plane []uint8, cy int) []uint8 {
		i := m.COffset(b.Min.X, b.Min.Y+cy*vy)
		return plane[i : i+cw]
	}
	cb, cr := make([]uint8, w+1), make([]uint8, w+1)
	tmpCb, tmpCr := make([]uint8, cw), make([]uint8, cw)
	for y := 0; y < h; y++ {
		cy := y / vy
		var rowCb, rowCr []uint8
		if vy == 2 {
			// Vertical triangle: 3/4 nearer row + 1/4 other row (the edge rows replicate).
			other := cy - 1
			if y%2 == 1 {
				other = cy + 1
			}
			other = min(max(other, 0), ch-1)
			if hx == 2 {
				h2v2Row(cb, crow(m.Cb, cy), crow(m.Cb, other))
				h2v2Row(cr, crow(m.Cr, cy), crow(m.Cr, other))
			} else {
				h1v2Row(cb, crow(m.Cb, cy), crow(m.Cb, other), y%2 == 1)
				h1v2Row(cr, crow(m.Cr, cy), crow(m.Cr, other), y%2 == 1)
			}
			rowCb, rowCr = cb, cr
		} else if hx == 2 {
			copy(tmpCb, crow(m.Cb, cy))
			copy(tmpCr, crow(m.Cr, cy))
			h2v1Row(cb, tmpCb)
			h2v1Row(cr, tmpCr)
			rowCb, rowCr = cb, cr
		} else {
			rowCb, rowCr = crow(m.Cb, cy), crow(m.Cr, cy)
		}
		yi := m.YOffset(b.Min.X, b.Min.Y+y)
		yccRow(out.Pix[y*w*3:(y+1)*w*3], m.Y[yi:yi+w], rowCb[:w], rowCr[:w])
	}
}

// h2v2Row is libjpeg's h2v2_fancy_upsample for one output row: near is the nearest chroma row,
// far the next nearest (above for even output rows, below for odd ones). out has room for
// 2*len(near) samples.
func h2v2Row(out, near, far []uint8) {
	n := len(near)
	sum := func(i int) int { return int(near[i])*3 + int(far[i]) }
	this, next := sum(0), sum(1)
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	for i := 1; i < n-1; i++ {
		next = sum(i + 1)
		out[2*i] = uint8((this*3 + last + 8) >> 4)
		out[2*i+1] = uint8((this*3 + next + 7) >> 4)
		last, this = this, next
	}
	out[2*(n-1)] = uint8((this*3 + last + 8) >> 4)
	if 2*(n-1)+1 < len(out) {
		out[2*(n-1)+1] = uint8((this*4 + 7) >> 4)
	}
}

// h2v1Row is libjpeg's h2v1_fancy_upsample for one row.
func h2v1Row(out, in []uint8) {
	n := len(in)
	out[0] = in[0]
	out[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int(in[i]) * 3
		out[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
	}
	out[2*(n-1)] = uint8((int(in[n-1])*3 + int(in[n-2]) + 1) >> 2)
	if 2*(n-1)+1 < len(out) {
		out[2*(n-1)+1] = in[n-1]
	}
}

// h1v2Row is libjpeg's h1v2_fancy_upsample for one output row.
func h1v2Row(out, near, far []uint8, below bool) {
	bias := 1
	if below {
		bias = 2
	}
	for i := range near {
		out[i] = uint8((int(near[i])*3 + int(far[i]) + bias) >> 2)
	}
}
