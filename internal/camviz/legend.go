package camviz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var (
	legendBackground = color.RGBA{255, 255, 255, 255}
	ink              = color.RGBA{24, 24, 24, 255}
)

// Captions of the legend: what the colour bar measures, and what the grey outside the crop means.
const (
	BarCaption     = "class evidence (logits)"
	OutsideCaption = "outside the crop: not seen by the model"
)

// parsedFonts are the Go fonts (regular and bold), parsed once: they are read-only after parsing, and
// faces, which are not safe for concurrent use, are made per legend.
var parsedFonts = sync.OnceValues(func() ([2]*opentype.Font, error) {
	var fs [2]*opentype.Font
	for i, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := opentype.Parse(ttf)
		if err != nil {
			return fs, fmt.Errorf("camviz: parse the Go font: %w", err)
		}
		fs[i] = f
	}
	return fs, nil
})

// legend is the strip below the image: the title (label and probability), the colour bar with the
// map's range, and the swatch for the region outside the crop.
type legend struct {
	width, height int
	pad, barH     int
	regular, bold font.Face
	title         string
	lo, hi        string // the bar's end values
}

// Title is the legend's first line for a label and a probability (negative: none).
func Title(label string, p float64) string {
	if p < 0 || math.IsNaN(p) {
		return label
	}
	return fmt.Sprintf("%s  %.1f%%", label, 100*p)
}

// BarEnds formats the map's range as the colour bar's end labels.
func BarEnds(lo, hi float64, finite bool) (string, string) {
	if !finite {
		return "no finite values", ""
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
	return f(lo), f(hi)
}

func newLegend(width int, opts Options, lo, hi float64, finite bool) (*legend, error) {
	fonts, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	l := &legend{width: width, title: Title(opts.Label, opts.Probability)}
	l.lo, l.hi = BarEnds(lo, hi, finite)
	// The largest size, up to a 24th of the width, at which the fixed lines fit.
	for size := math.Min(math.Max(float64(width)/24, 11), 36); ; size-- {
		l.regular, err = opentype.NewFace(fonts[0], &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("camviz: font face: %w", err)
		}
		l.pad = int(math.Round(size * 0.6))
		l.barH = int(math.Round(size))
		if l.fixedWidth() <= width-2*l.pad || size <= 7 {
			l.bold, err = opentype.NewFace(fonts[1], &opentype.FaceOptions{Size: size * 1.15, DPI: 72, Hinting: font.HintingFull})
			if err != nil {
				return nil, fmt.Errorf("camviz: font face: %w", err)
			}
			break
		}
	}
	l.title = fit(l.bold, l.title, width-2*l.pad)
	l.height = l.pad + l.lineHeight(l.bold) + l.pad/2 + l.barH + l.pad/3 + 2*l.lineHeight(l.regular) + l.pad
	return l, nil
}

// fixedWidth is the width of the widest line that is not truncated.
func (l *legend) fixedWidth() int {
	gap := l.pad
	ticks := textWidth(l.regular, l.lo) + textWidth(l.regular, BarCaption) + textWidth(l.regular, l.hi) + 2*gap
	outside := l.swatch() + gap/2 + textWidth(l.regular, OutsideCaption)
	return max(ticks, outside)
}

func (l *legend) swatch() int { return l.regular.Metrics().Ascent.Ceil() }

func (l *legend) lineHeight(f font.Face) int { return f.Metrics().Height.Ceil() }

func textWidth(f font.Face, s string) int { return font.MeasureString(f, s).Ceil() }

// fit shortens s with an ellipsis until it is at most w pixels wide.
func fit(f font.Face, s string, w int) string {
	if textWidth(f, s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && textWidth(f, string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// draw paints the legend into dst with its top at row top.
func (l *legend) draw(dst *image.RGBA, top int) {
	text := func(f font.Face, s string, x, baseline int) {
		d := font.Drawer{Dst: dst, Src: image.NewUniform(ink), Face: f, Dot: fixed.P(x, baseline)}
		d.DrawString(s)
	}
	y := top + l.pad
	text(l.bold, l.title, l.pad, y+l.bold.Metrics().Ascent.Ceil())
	y += l.lineHeight(l.bold) + l.pad/2

	x0, x1 := l.pad, l.width-l.pad
	for x := x0; x < x1; x++ {
		t := float64(x-x0) / float64(max(x1-x0-1, 1))
		draw.Draw(dst, image.Rect(x, y, x+1, y+l.barH), image.NewUniform(jetRGBA(t)), image.Point{}, draw.Src)
	}
	y += l.barH + l.pad/3

	base := y + l.regular.Metrics().Ascent.Ceil()
	text(l.regular, l.lo, x0, base)
	text(l.regular, l.hi, x1-textWidth(l.regular, l.hi), base)
	text(l.regular, BarCaption, (x0+x1-textWidth(l.regular, BarCaption))/2, base)
	y += l.lineHeight(l.regular)

	s := l.swatch()
	g := Outside(160, 160, 160)
	draw.Draw(dst, image.Rect(x0, y+(l.lineHeight(l.regular)-s)/2, x0+s, y+(l.lineHeight(l.regular)+s)/2), image.NewUniform(color.RGBA{g, g, g, 255}), image.Point{}, draw.Src)
	text(l.regular, OutsideCaption, x0+s+l.pad/2, y+l.regular.Metrics().Ascent.Ceil())
}
