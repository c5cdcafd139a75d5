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
// Image.open(f).convert("RGB")), CMYK uses PIL's formula, and 16-bit samples keep their high byte.
// A *RGB is returned as is.
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
