package camviz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
)

// MinWidth is the narrowest image the overlay shows at its own resolution: a narrower one is
// enlarged (Scale) so that its label and colour scale can be read.
const MinWidth = 256

// maxEnlargedHeight bounds the enlargement of a narrow image, so that a 1×5000 strip does not become
// a 256×1280000 picture.
const maxEnlargedHeight = 4096

// Scale is the integer factor by which Overlay enlarges a w×h image: 1 when it is at least MinWidth
// wide, else the least factor that makes it so, as far as maxEnlargedHeight rows allow. Each original
// pixel becomes a Scale×Scale block, so overlay pixel (x, y) is original pixel (x/k, y/k).
func Scale(w, h int) int {
	if w >= MinWidth || w < 1 || h < 1 {
		return 1
	}
	k := (MinWidth + w - 1) / w
	return max(1, min(k, maxEnlargedHeight/h))
}

// Options say what the overlay says besides the map.
type Options struct {
	Label       string  // the class whose map is drawn
	Probability float64 // the model's probability of that class, in [0, 1]; negative hides it
	Alpha       float64 // the map's opacity over the image, in (0, 1]; 0 means 0.5
}

// Outside is what Overlay does to the image outside the crop, where the model saw nothing: the grey
// level of the pixel, dimmed, so that no colour there can be read as evidence.
func Outside(r, g, b uint8) uint8 {
	l := 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)
	return uint8(math.Round(24 + 0.45*l))
}

// Overlay draws map m of the crop c over img, the whole original image c was taken from (c.W×c.H).
// The result has the image at the top, enlarged by Scale(c.W, c.H) (1 for an image at least MinWidth
// wide), and a legend below it: the label and probability, a colour bar from the map's smallest to
// its largest value (jet: blue low, red high; the values are the map's own, in the model's logit
// units), and a grey swatch for what is outside the crop. Inside the crop the map is blended over the
// image at opts.Alpha; outside it the image is dimmed to grey (Outside).
func Overlay(img image.Image, m Map, c Crop, opts Options) (*image.RGBA, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	if b := img.Bounds(); b.Dx() != c.W || b.Dy() != c.H {
		return nil, fmt.Errorf("camviz: a %d×%d image for a crop of a %d×%d one", b.Dx(), b.Dy(), c.W, c.H)
	}
	alpha := opts.Alpha
	if alpha == 0 {
		alpha = 0.5
	}
	if !(alpha > 0 && alpha <= 1) {
		return nil, fmt.Errorf("camviz: opacity %g is not in (0, 1]", alpha)
	}
	lo, hi, finite := m.Range()
	k := Scale(c.W, c.H)
	iw, ih := c.W*k, c.H*k
	width := max(iw, MinWidth)
	leg, err := newLegend(width, opts, lo, hi, finite)
	if err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, width, ih+leg.height))
	draw.Draw(out, out.Bounds(), image.NewUniform(legendBackground), image.Point{}, draw.Src)

	src, ok := img.(*image.RGBA)
	if !ok || src.Bounds().Min != (image.Point{}) {
		src = image.NewRGBA(image.Rect(0, 0, c.W, c.H))
		draw.Draw(src, src.Bounds(), img, img.Bounds().Min, draw.Src)
	}
	mix := func(a uint8, b float64) uint8 {
		return uint8(math.Round(math.Min(math.Max((1-alpha)*float64(a)+alpha*255*b, 0), 255)))
	}
	for y := range ih {
		row := out.Pix[y*out.Stride:]
		srow := src.Pix[(y/k)*src.Stride:]
		for x := range iw {
			s := srow[(x/k)*4 : (x/k)*4+3 : (x/k)*4+3]
			d := row[x*4 : x*4+4 : x*4+4]
			v, in := m.At(c, (float64(x)+0.5)/float64(k), (float64(y)+0.5)/float64(k))
			if !in {
				g := Outside(s[0], s[1], s[2])
				d[0], d[1], d[2], d[3] = g, g, g, 255
				continue
			}
			r, g, b := Jet(normalise(v, lo, hi))
			d[0], d[1], d[2], d[3] = mix(s[0], r), mix(s[1], g), mix(s[2], b), 255
		}
	}
	leg.draw(out, ih)
	return out, nil
}

// normalise maps v in [lo, hi] to [0, 1]; a flat map is the middle of the scale.
func normalise(v, lo, hi float64) float64 {
	if !(hi > lo) {
		return 0.5
	}
	return math.Min(math.Max((v-lo)/(hi-lo), 0), 1)
}

// Jet is MATLAB's jet colour map at t in [0, 1]: dark blue, blue, cyan, yellow, red, dark red. It is
// the colour map of the CAM images that training writes, so that both read alike; its red and blue
// are mirror images (r(t) = b(1-t)), so red outweighs blue exactly above the middle of the scale.
func Jet(t float64) (r, g, b float64) {
	clamp := func(x float64) float64 { return math.Min(math.Max(x, 0), 1) }
	r = clamp(1.5 - math.Abs(4*t-3))
	g = clamp(1.5 - math.Abs(4*t-2))
	b = clamp(1.5 - math.Abs(4*t-1))
	return r, g, b
}

func jetRGBA(t float64) color.RGBA {
	r, g, b := Jet(t)
	c := func(v float64) uint8 { return uint8(math.Round(255 * v)) }
	return color.RGBA{c(r), c(g), c(b), 255}
}
