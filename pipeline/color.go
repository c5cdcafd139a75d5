package pipeline

import (
	"math"
	"sync"
)

// The four ColorJitter operations as torchvision applies them to PIL images (functional_pil.py):
// brightness, contrast and saturation are PIL.ImageEnhance, i.e. Image.blend(degenerate, image,
// factor) with a black, a mean-gray and a grayscale degenerate image; hue goes through PIL's HSV
// conversion. Blend.c computes in C float with truncation (clamped when extrapolating); the code
// below does the same float32 arithmetic, so results equal PIL's.

// blend is ImagingBlend for one sample: a + alpha·(b − a) in float32, truncated, clamped when
// alpha is outside [0, 1].
func blend(a, b uint8, alpha float32) uint8 {
	t := float32(a) + float32(alpha*float32(int(b)-int(a)))
	if alpha >= 0 && alpha <= 1 {
		return uint8(t)
	}
	if t <= 0 {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(t)
}

// blendTable returns blend(a, v, alpha) for every v.
func blendTable(a uint8, alpha float32) *[256]uint8 {
	var t [256]uint8
	for v := range t {
		t[v] = blend(a, uint8(v), alpha)
	}
	return &t
}

func applyTable(m *RGB, t *[256]uint8) {
	for i, v := range m.Pix {
		m.Pix[i] = t[v]
	}
}

// luma is PIL's RGB→L conversion (ITU-R 601-2 in 16-bit fixed point, rounded).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// adjustBrightness is F.adjust_brightness: blend with black.
func adjustBrightness(m *RGB, factor float64) {
	if factor == 1 {
		return
	}
	applyTable(m, blendTable(0, float32(factor)))
}

// adjustContrast is F.adjust_contrast: blend with the mean of the L image, rounded to an integer
// (ImageEnhance.Contrast: int(ImageStat.Stat(image.convert("L")).mean[0] + 0.5)).
func adjustContrast(m *RGB, factor float64) {
	if factor == 1 {
		return
	}
	var sum uint64
	p := m.Pix
	for i := 0; i+2 < len(p); i += 3 {
		sum += uint64(luma(p[i], p[i+1], p[i+2]))
	}
	n := len(p) / 3
	mean := 0
	if n > 0 {
		mean = int(float64(sum)/float64(n) + 0.5)
	}
	applyTable(m, blendTable(uint8(mean), float32(factor)))
}

// adjustSaturation is F.adjust_saturation: blend each pixel with its own L value. The blends of
// each gray level with every value are tabulated on first use.
func adjustSaturation(m *RGB, factor float64) {
	if factor == 1 {
		return
	}
	alpha := float32(factor)
	tab := make([]uint8, 256*256) // tab[l<<8|v] = blend(l, v, alpha)
	var built [256]bool
	p := m.Pix
	for i := 0; i+2 < len(p); i += 3 {
		l := luma(p[i], p[i+1], p[i+2])
		row := tab[int(l)<<8 : int(l)<<8+256]
		if !built[l] {
			for v := range row {
				row[v] = blend(l, uint8(v), alpha)
			}
			built[l] = true
		}
		p[i], p[i+1], p[i+2] = row[p[i]], row[p[i+1]], row[p[i+2]]
	}
}

// adjustHue is F.adjust_hue on a PIL image: convert to PIL's 8-bit HSV, add
// np.uint8(factor * 255) to H with wrap-around, convert back. factor is in [-0.5, 0.5]. The
// per-pixel float arithmetic of rgbToHSV and hsvToRGB is precomputed into tables (hueTables), so
// the result is the same to the bit at a fraction of the cost.
func adjustHue(m *RGB, factor float64) {
	// np.uint8 of a float: truncate, then wrap modulo 256. A zero shift still round-trips through
	// HSV, which is lossy in PIL, so it is not skipped.
	shift := uint8(int(factor * 255))
	t := hueTables()
	p := m.Pix
	for i := 0; i+2 < len(p); i += 3 {
		r, g, b := p[i], p[i+1], p[i+2]
		maxc := max(r, g, b)
		minc := min(r, g, b)
		if maxc == minc { // gray: S = 0 and the shift changes nothing
			continue
		}
		var h uint8
		switch {
		case r == maxc:
			h = t.hueR[int(maxc-g)<<8|int(maxc-b)]
		case g == maxc:
			h = t.hueG[int(maxc-r)<<8|int(maxc-b)]
		default:
			h = t.hueB[int(maxc-g)<<8|int(maxc-r)]
		}
		s := t.sat[int(maxc)<<8|int(maxc-minc)]
		h += shift
		p[i], p[i+1], p[i+2] = t.toRGB(h, s, maxc)
	}
}

// hueTabs holds PIL's RGB→HSV hue and saturation as functions of channel differences, and the
// HSV→RGB factors as functions of (S, H): everything of rgbToHSV and hsvToRGB but the final
// multiplication by V.
type hueTabs struct {
	hueR, hueG, hueB [256 * 256]uint8   // H when R, G or B is the maximum, by the two other channels' distances to it
	sat              [256 * 256]uint8   // S by (max, max-min)
	sector           [256]uint8         // i % 6 by H
	p                [256 * 256]uint8   // round(V·(1-fs)) by (S, V)
	qt               [256 * 256]float64 // the q or t factor hsvToRGB needs for the sector, by (S, H)
}

// hueTables builds the tables once, from the reference functions; they are read-only after.
var hueTables = sync.OnceValue(func() *hueTabs {
	t := new(hueTabs)
	for a := range 256 {
		for b := range 256 {
			i := a<<8 | b
			t.hueR[i], _, _ = rgbToHSV(255, uint8(255-a), uint8(255-b))
			if a > 0 {
				t.hueG[i], _, _ = rgbToHSV(uint8(255-a), 255, uint8(255-b))
			}
			if a > 0 && b > 0 {
				t.hueB[i], _, _ = rgbToHSV(uint8(255-b), uint8(255-a), 255)
			}
			if b <= a && a > 0 {
				_, t.sat[i], _ = rgbToHSV(uint8(a), uint8(a-b), uint8(a-b))
			}
		}
	}
	for h := range 256 {
		t.sector[h] = uint8(hsvSector(uint8(h)))
	}
	for s := 1; s < 256; s++ {
		for x := range 256 {
			i := s<<8 | x
			fs, f := hsvFactors(uint8(x), uint8(s))
			t.p[i] = clipInt8(roundHalfAway(float64(float32(x)) * (1.0 - float64(fs))))
			if t.sector[x]%2 == 1 { // sectors 1, 3, 5 use q, the others t
				t.qt[i] = 1.0 - float64(fs*f)
			} else {
				t.qt[i] = 1.0 - float64(fs)*(1.0-float64(f))
			}
		}
	}
	return t
})

// toRGB is hsvToRGB for s != 0 through the tables.
func (t *hueTabs) toRGB(h, s, v uint8) (uint8, uint8, uint8) {
	p := t.p[int(s)<<8|int(v)]
	x := clipInt8(roundHalfAway(float64(v) * t.qt[int(s)<<8|int(h)]))
	return sectorRGB(int(t.sector[h]), v, p, x, x) // each sector uses only one of q and t
}

// roundHalfAway is C's round for x >= 0, exactly (x - trunc(x) is exact in floating point).
func roundHalfAway(x float64) int {
	i := int(x)
	if x-float64(i) >= 0.5 {
		i++
	}
	return i
}

// rgbToHSV is PIL's rgb2hsv_row (Convert.c), with its mix of float and double arithmetic.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	h = float32(math.Mod(float64(h)/6.0+1.0, 1.0))
	return clipInt8(int(float64(h) * 255.0)), clipInt8(int(float64(s) * 255.0)), maxc
}

// hsvToRGB is PIL's hsv2rgb (Convert.c).
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	fs, f := hsvFactors(h, s)
	fv := float64(float32(v))
	p := clipInt8(int(math.Round(fv * (1.0 - float64(fs)))))
	q := clipInt8(int(math.Round(fv * (1.0 - float64(fs*f)))))
	t := clipInt8(int(math.Round(fv * (1.0 - float64(fs)*(1.0-float64(f))))))
	return sectorRGB(hsvSector(h), v, p, q, t)
}

// sectorRGB is hsv2rgb's final switch: R, G and B from v, p, q and t by hue sector.
func sectorRGB(sector int, v, p, q, t uint8) (uint8, uint8, uint8) {
	switch sector {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// hsvSector is hsv2rgb's i % 6, with i = floor(h·6/255) in double precision.
func hsvSector(h uint8) int { return int(math.Floor(float64(float32(h))*6.0/255.0)) % 6 }

// hsvFactors are hsv2rgb's fs = s/255 and f, the fractional part of h·6/255, in C float.
func hsvFactors(h, s uint8) (fs, f float32) {
	hf := float64(float32(h)) * 6.0 / 255.0
	i := math.Floor(hf)
	return float32(float64(float32(s)) / 255.0), float32(hf - float64(float32(i)))
}

func clipInt8(v int) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
