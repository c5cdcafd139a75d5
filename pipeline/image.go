package pipeline

import (
	"image"
	"image/color"
)

// RGB is an 8-bit RGB image with packed pixels: 3 bytes a pixel, rows W*3 bytes long without
// padding. It is the pipeline's working format (PIL's "RGB" mode) and implements image.Image.
type RGB struct {
	Pix  []uint8
	W, H int
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB { return &RGB{Pix: make([]uint8, w*h*3), W: w, H: h} }

// ColorModel implements image.Image.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds implements image.Image.
func (m *RGB) Bounds() image.Rectangle { return image.Rect(0, 0, m.W, m.H) }

// At implements image.Image.
func (m *RGB) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return color.RGBA{}
	}
	i := (y*m.W + x) * 3
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
}

// ToRGB converts any image to RGB the way PIL's convert("RGB") does for the formats Go decodes:
// gray is replicated, alpha is dropped (not composited: torchvision's loader does
// Image.open(f).convert("RGB")), palette entries keep their colour even when transparent, CMYK uses
// PIL's formula, 16-bit colour and grey+alpha samples keep their high byte, and 16-bit grey (PIL's
// mode "I") is clipped at 255, not scaled: PIL converts "I" to 8 bits by clipping, so every value
// above 255 becomes white. A *RGB is returned as is.
func ToRGB(img image.Image) *RGB {
	if m, ok := img.(*RGB); ok {
		return m
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	p := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(out, m)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[(y)*m.Stride : y*m.Stride+w]
			o := p[y*w*3 : (y+1)*w*3]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			o := p[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Gray16:
		return gray16ClipToRGB(m)
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			o := p[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				if a := row[4*x+3]; a != 255 { // premultiplied: undo it as NRGBA64Model does
					c := color.NRGBA64Model.Convert(m.RGBAAt(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
					o[3*x], o[3*x+1], o[3*x+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
					continue
				}
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Paletted:
		// The entry's colour, whatever its alpha: PIL's "P" to "RGB" ignores transparency, where
		// color.NRGBA64Model would turn a transparent entry black.
		var lut [256][3]uint8 // an index past the palette stays black, as in PIL
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			lut[i] = paletteRGB(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := p[y*w*3 : (y+1)*w*3]
			for x, v := range row {
				c := lut[v]
				o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
			}
		}
	case *image.NYCbCrA:
		ycbcrToRGB(out, &m.YCbCr)
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			o := p[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
				p[i], p[i+1], p[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
				i += 3
			}
		}
	}
	return out
}

// cmykToRGB is PIL's cmyk2rgb: each channel (255-c)(255-k)/255 rounded.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128
		return uint8(nk - (t+t>>8)>>8)
	}
	return f(c), f(m), f(y)
}

// paletteRGB is a palette entry's colour without its alpha: PIL keeps the RGB of a transparent
// palette entry.
func paletteRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 255 {
			return [3]uint8{c.R, c.G, c.B}
		}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

// gray16ClipToRGB converts a 16-bit grey image as PIL converts mode "I" to "RGB": min(v, 255) in
// every channel. m is an *image.Gray16, or the *image.NRGBA64 Go's PNG decoder returns for 16-bit
// grey with a tRNS chunk (grey in R, G and B).
func gray16ClipToRGB(m image.Image) *RGB {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	clip := func(v uint16) uint8 { return uint8(min(v, 255)) }
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var v uint8
			switch g := m.(type) {
			case *image.Gray16:
				v = clip(g.Gray16At(x, y).Y)
			case *image.NRGBA64:
				v = clip(g.NRGBA64At(x, y).R)
			default:
				v = clip(color.Gray16Model.Convert(m.At(x, y)).(color.Gray16).Y)
			}
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
			i += 3
		}
	}
	return out
}
