package pipeline

import "image"

// Lossy WebP stores VP8 frames: limited-range BT.601 Y'CbCr ("studio swing", Y in 16..235) with
// chroma at half resolution both ways. golang.org/x/image/webp returns the planes as they are, as an
// *image.YCbCr (or *image.NYCbCrA with alpha), and Go's colour model would read them as full-range
// JFIF values: about 8/255 off on average, 20 at most, on a test image. PIL decodes with libwebp,
// whose default RGB output upsamples chroma with its "fancy" filter and converts with 14-bit fixed
// point; this file does the same (libwebp src/dsp/upsampling.c UPSAMPLE_FUNC, src/dsp/yuv.h
// VP8YuvToRgb, src/dec/io_dec.c EmitFancyRGB), so that the RGB values equal PIL's.

// webpMultHi is libwebp's MultHi, an emulation of _mm_mulhi_epu16.
func webpMultHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

// webpClip8 is libwebp's VP8Clip8 (YUV_FIX2 = 6).
func webpClip8(v int32) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// webpYUVToRGB is libwebp's VP8YuvToRgb.
func webpYUVToRGB(y, u, v uint8, o []uint8) {
	yy := webpMultHi(int32(y), 19077)
	o[0] = webpClip8(yy + webpMultHi(int32(v), 26149) - 14234)
	o[1] = webpClip8(yy - webpMultHi(int32(u), 6419) - webpMultHi(int32(v), 13320) + 8708)
	o[2] = webpClip8(yy + webpMultHi(int32(u), 33050) - 17685)
}

// webpUpsampleRows is libwebp's UpsampleRgbLinePair: it converts the Y row top (and bottom, when not
// nil) to RGB, interpolating chroma between the chroma rows topU/topV (above) and curU/curV (below)
// with weights 9-3-3-1. u and v travel packed in one uint32, 16 bits each, as in libwebp, so that
// the rounding is the same.
func webpUpsampleRows(topY, bottomY, topU, topV, curU, curV []uint8, topDst, bottomDst []uint8, n int) {
	load := func(u, v uint8) uint32 { return uint32(u) | uint32(v)<<16 }
	emit := func(dst []uint8, x int, y uint8, uv uint32) {
		webpYUVToRGB(y, uint8(uv&0xff), uint8(uv>>16), dst[3*x:3*x+3])
	}
	last := (n - 1) >> 1
	tl := load(topU[0], topV[0])
	l := load(curU[0], curV[0])
	emit(topDst, 0, topY[0], (3*tl+l+0x00020002)>>2)
	if bottomY != nil {
		emit(bottomDst, 0, bottomY[0], (3*l+tl+0x00020002)>>2)
	}
	for x := 1; x <= last; x++ {
		t := load(topU[x], topV[x])
		uv := load(curU[x], curV[x])
		avg := tl + t + l + uv + 0x00080008
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+uv)) >> 3
		emit(topDst, 2*x-1, topY[2*x-1], (diag12+tl)>>1)
		emit(topDst, 2*x, topY[2*x], (diag03+t)>>1)
		if bottomY != nil {
			emit(bottomDst, 2*x-1, bottomY[2*x-1], (diag03+l)>>1)
			emit(bottomDst, 2*x, bottomY[2*x], (diag12+uv)>>1)
		}
		tl, l = t, uv
	}
	if n&1 == 0 {
		emit(topDst, n-1, topY[n-1], (3*tl+l+0x00020002)>>2)
		if bottomY != nil {
			emit(bottomDst, n-1, bottomY[n-1], (3*l+tl+0x00020002)>>2)
		}
	}
}

// webpToRGB converts the planes of a lossy WebP (4:2:0, as VP8 always is) to RGB as libwebp's
// EmitFancyRGB does for a whole picture: the first row against itself, then pairs of rows between
// consecutive chroma rows, and for an even height the last row against the last chroma row. ok is
// false for planes of another subsampling, which no WebP decoder returns.
func webpToRGB(m *image.YCbCr) (*RGB, bool) {
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, false
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	cw := (w + 1) / 2
	yRow := func(y int) []uint8 { i := m.YOffset(b.Min.X, b.Min.Y+y); return m.Y[i : i+w] }
	cRow := func(plane []uint8, cy int) []uint8 {
		i := m.COffset(b.Min.X, b.Min.Y+2*cy)
		return plane[i : i+cw]
	}
	oRow := func(y int) []uint8 { return out.Pix[y*w*3 : (y+1)*w*3] }
	u0, v0 := cRow(m.Cb, 0), cRow(m.Cr, 0)
	webpUpsampleRows(yRow(0), nil, u0, v0, u0, v0, oRow(0), nil, w)
	cy := 0
	for y := 0; y+2 < h; y += 2 {
		webpUpsampleRows(yRow(y+1), yRow(y+2), cRow(m.Cb, cy), cRow(m.Cr, cy), cRow(m.Cb, cy+1), cRow(m.Cr, cy+1), oRow(y+1), oRow(y+2), w)
		cy++
	}
	if h%2 == 0 && h > 1 {
		u, v := cRow(m.Cb, cy), cRow(m.Cr, cy)
		webpUpsampleRows(yRow(h-1), nil, u, v, u, v, oRow(h-1), nil, w)
	}
	return out, true
}
