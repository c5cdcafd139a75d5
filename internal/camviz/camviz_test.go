package camviz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/finegrain/finegrain/pipeline"
)

// TestCenterCropMatchesPipeline holds CenterCrop to what the evaluation pipeline does: an image
// whose red channel encodes x and green channel y is put through pipeline.EvalImage, and every crop
// pixel must show the original point that ToOriginal names. The originals are about five times the
// resize, so an error of one resized pixel (a rounding rule of the offset, a truncation of the long
// side) moves the point by five original pixels, past the tolerance of one pixel plus half a step of
// the 8-bit gradient (at most 3 pixels here); the mean error over the crop must be under half a pixel. 720×560 to 110 makes the crop offset (141-96)/2 = 22.5, where rounding half
// to even and half up differ.
func TestCenterCropMatchesPipeline(t *testing.T) {
	for _, c := range []struct{ w, h, resize, size int }{
		{720, 560, 110, 96}, // landscape, offset 22.5
		{560, 720, 110, 96}, // portrait
		{640, 640, 110, 96}, // square
		{500, 333, 100, 64}, // landscape, long side truncated (150.15)
		{260, 700, 56, 48},  // tall portrait
		{1000, 400, 80, 80}, // crop as tall as the resize
		{333, 1000, 64, 60}, // portrait, offset 1.5 sideways
	} {
		t.Run(fmt.Sprintf("%dx%d_%d_%d", c.w, c.h, c.resize, c.size), func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
			for y := range c.h {
				for x := range c.w {
					img.SetRGBA(x, y, color.RGBA{uint8(math.Round(float64(x) * 255 / float64(c.w-1))), uint8(math.Round(float64(y) * 255 / float64(c.h-1))), 0, 255})
				}
			}
			cfg := pipeline.DefaultConfig()
			cfg.ImageSize, cfg.ResizeSize = c.size, c.resize
			pix, err := pipeline.EvalImage(img, cfg)
			if err != nil {
				t.Fatal(err)
			}
			crop, err := CenterCrop(c.w, c.h, c.resize, c.size)
			if err != nil {
				t.Fatal(err)
			}
			if crop.Rect.Dx() != c.size || crop.Rect.Dy() != c.size {
				t.Fatalf("crop %v, want %d square", crop.Rect, c.size)
			}
			var worstX, worstY, sumX, sumY float64
			for i := range c.size {
				for j := range c.size {
					ox, oy := crop.ToOriginal(float64(j)+0.5, float64(i)+0.5)
					// Pixel x holds x·255/(w-1) at its centre, x+0.5.
					gotX := float64(pix[(i*c.size+j)*3])*float64(c.w-1)/255 + 0.5
					gotY := float64(pix[(i*c.size+j)*3+1])*float64(c.h-1)/255 + 0.5
					dx, dy := gotX-ox, gotY-oy
					worstX, worstY = math.Max(worstX, math.Abs(dx)), math.Max(worstY, math.Abs(dy))
					sumX, sumY = sumX+dx, sumY+dy
				}
			}
			// One pixel for the resampling filter and half a quantisation step of the gradient.
			tolX, tolY := 1+0.5*float64(c.w-1)/255, 1+0.5*float64(c.h-1)/255
			n := float64(c.size * c.size)
			if worstX > tolX || worstY > tolY || math.Abs(sumX/n) > 0.5 || math.Abs(sumY/n) > 0.5 {
				t.Errorf("the pipeline's crop shows points up to (%.2f, %.2f) original pixels (mean (%.2f, %.2f)) from where ToOriginal puts them; want at most (%.2f, %.2f) (mean 0.5)", worstX, worstY, sumX/n, sumY/n, tolX, tolY)
			}
		})
	}
}

func TestCenterCropErrors(t *testing.T) {
	for _, c := range []struct{ w, h, resize, size int }{
		{0, 10, 36, 32}, {10, 0, 36, 32}, {10, 10, 30, 32}, {10, 10, 36, 0},
	} {
		if _, err := CenterCrop(c.w, c.h, c.resize, c.size); err == nil {
			t.Errorf("CenterCrop(%d, %d, %d, %d) gave no error", c.w, c.h, c.resize, c.size)
		}
	}
}

func TestScale(t *testing.T) {
	for _, c := range []struct{ w, h, want int }{
		{360, 280, 1},
		{256, 10, 1},
		{255, 255, 2},
		{128, 128, 2},
		{32, 32, 8},
		{10, 1000, 4}, // 26 would make 26000 rows
		{1, 5000, 1},
		{0, 0, 1},
	} {
		if got := Scale(c.w, c.h); got != c.want {
			t.Errorf("Scale(%d, %d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
}

// TestOverlayHotCell draws a map that is zero but for one cell over a flat grey image, and finds
// where the hot colour landed in the overlay: red outweighs blue exactly where the normalised map is
// above 0.5 (Jet's mirror symmetry), which with bilinear interpolation is inside the cell and covers
// its central half (|d| ≤ 1/4 of a cell from its centre gives at least 0.75² = 0.56). The cell is
// carried back through the crop and the resize by hand, here, from the crop's rectangle. The
// tolerance is one overlay pixel at every boundary. Outside the crop every pixel must be the dimmed
// grey and inside it none may be grey.
func TestOverlayHotCell(t *testing.T) {
	for _, c := range []struct {
		name                   string
		w, h, resize, size     int
		mapH, mapW, hotI, hotJ int
		scale                  int
	}{
		{"landscape", 360, 280, 256, 224, 7, 7, 2, 5, 1},
		{"portrait", 280, 360, 256, 224, 7, 7, 6, 0, 1},
		{"portrait corner", 300, 450, 110, 96, 3, 3, 0, 2, 1},
		{"square enlarged", 128, 128, 110, 96, 3, 3, 1, 1, 2},
		{"small portrait enlarged", 40, 64, 36, 32, 2, 2, 0, 1, 7},
		{"landscape non-square map", 400, 300, 128, 112, 4, 2, 3, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			const grey = 128
			img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
			for i := range img.Pix {
				img.Pix[i] = grey
				if i%4 == 3 {
					img.Pix[i] = 255 // opaque
				}
			}
			crop, err := CenterCrop(c.w, c.h, c.resize, c.size)
			if err != nil {
				t.Fatal(err)
			}
			m := Map{H: c.mapH, W: c.mapW, V: make([]float32, c.mapH*c.mapW)}
			m.V[c.hotI*c.mapW+c.hotJ] = 1
			out, err := Overlay(img, m, crop, Options{Label: "hot", Probability: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			k := float64(c.scale)
			if got := Scale(c.w, c.h); got != c.scale {
				t.Fatalf("Scale = %d, want %d", got, c.scale)
			}
			iw, ih := c.w*c.scale, c.h*c.scale
			if b := out.Bounds(); b.Dx() != max(iw, MinWidth) || b.Dy() <= ih {
				t.Fatalf("overlay is %v, want %d wide and taller than %d", b, max(iw, MinWidth), ih)
			}
			// The crop and the cell in overlay pixels: crop pixels → resized pixels → original → ×k.
			rect := func(x0, y0, x1, y1 float64) [4]float64 {
				f := func(v float64, resized, orig int) float64 { return v * float64(orig) / float64(resized) * k }
				l, tp := float64(crop.Rect.Min.X), float64(crop.Rect.Min.Y)
				return [4]float64{f(l+x0, crop.RW, c.w), f(tp+y0, crop.RH, c.h), f(l+x1, crop.RW, c.w), f(tp+y1, crop.RH, c.h)}
			}
			s := float64(c.size)
			cellW, cellH := s/float64(c.mapW), s/float64(c.mapH)
			cropR := rect(0, 0, s, s)
			cell := rect(float64(c.hotJ)*cellW, float64(c.hotI)*cellH, float64(c.hotJ+1)*cellW, float64(c.hotI+1)*cellH)
			cx, cy := (float64(c.hotJ)+0.5)*cellW, (float64(c.hotI)+0.5)*cellH
			core := rect(cx-cellW/4, cy-cellH/4, cx+cellW/4, cy+cellH/4)
			in := func(r [4]float64, x, y, tol float64) bool {
				return x >= r[0]-tol && x <= r[2]+tol && y >= r[1]-tol && y <= r[3]+tol
			}
			dim := Outside(grey, grey, grey)
			var hot, bad int
			for y := range ih {
				for x := range iw {
					p := out.RGBAAt(x, y)
					px, py := float64(x)+0.5, float64(y)+0.5
					isHot := p.R > p.B
					isGrey := p.R == p.G && p.G == p.B
					var problem string
					switch {
					case !in(cropR, px, py, 1) && (!isGrey || p.R != dim):
						problem = fmt.Sprintf("outside the crop %v but coloured %v", cropR, p)
					case in(cropR, px, py, -1) && isGrey:
						problem = fmt.Sprintf("inside the crop %v but grey %v", cropR, p)
					case isHot && !in(cell, px, py, 1):
						problem = fmt.Sprintf("hot %v outside the cell's %v", p, cell)
					case !isHot && in(core, px, py, 0):
						problem = fmt.Sprintf("not hot %v in the centre %v of the cell", p, core)
					}
					if isHot {
						hot++
					}
					if problem != "" {
						if bad++; bad <= 5 {
							t.Errorf("overlay pixel (%d, %d): %s", x, y, problem)
						}
					}
				}
			}
			if hot == 0 {
				t.Errorf("no hot pixel; want the cell %v", cell)
			}
			if bad > 5 {
				t.Errorf("... %d pixels wrong in all", bad)
			}
		})
	}
}

func TestOverlayLegend(t *testing.T) {
	for _, c := range []struct {
		name   string
		w, h   int
		label  string
		p      float64
		values []float32
		title  string
		lo, hi string
	}{
		{"portrait", 280, 360, "Painted Bunting", 0.8734, []float32{-1.234, 0, 2, 5.678}, "Painted Bunting  87.3%", "-1.23", "5.68"},
		{"small, no probability", 48, 40, "w", -1, []float32{3, 3, 3, 3}, "w", "3", "3"},
		{"wide", 1200, 500, "x", 1, []float32{0, 1e-3, 0, 0}, "x  100.0%", "0", "0.001"},
		{"not finite", 300, 300, "y", 0.25, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN()), float32(math.NaN())}, "y  25.0%", "no finite values", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
			crop, err := CenterCrop(c.w, c.h, 36, 32)
			if err != nil {
				t.Fatal(err)
			}
			m := Map{H: 2, W: 2, V: c.values}
			out, err := Overlay(img, m, crop, Options{Label: c.label, Probability: c.p})
			if err != nil {
				t.Fatal(err)
			}
			lo, hi, finite := m.Range()
			if got := Title(c.label, c.p); got != c.title {
				t.Errorf("title %q, want %q", got, c.title)
			}
			if gotLo, gotHi := BarEnds(lo, hi, finite); gotLo != c.lo || gotHi != c.hi {
				t.Errorf("bar ends %q, %q; want %q, %q", gotLo, gotHi, c.lo, c.hi)
			}
			k := Scale(c.w, c.h)
			width := max(c.w*k, MinWidth)
			l, err := newLegend(width, Options{Label: c.label, Probability: c.p}, lo, hi, finite)
			if err != nil {
				t.Fatal(err)
			}
			top := c.h * k
			if out.Bounds().Dx() != width || out.Bounds().Dy() != top+l.height {
				t.Fatalf("overlay %v, want %d×%d", out.Bounds(), width, top+l.height)
			}
			if l.fixedWidth() > width-2*l.pad {
				t.Errorf("the legend's lines need %d pixels of %d", l.fixedWidth(), width-2*l.pad)
			}
			// The title has ink; the bar runs from the bottom of the scale to its top.
			titleTop := top + l.pad
			if n := countInk(out, image.Rect(0, titleTop, width, titleTop+l.lineHeight(l.bold))); n < 10 {
				t.Errorf("the title line has %d dark pixels", n)
			}
			barY := titleTop + l.lineHeight(l.bold) + l.pad/2 + l.barH/2
			if got, want := out.RGBAAt(l.pad, barY), jetRGBA(0); got != want {
				t.Errorf("bar starts with %v, want %v", got, want)
			}
			if got, want := out.RGBAAt(width-l.pad-1, barY), jetRGBA(1); got != want {
				t.Errorf("bar ends with %v, want %v", got, want)
			}
			if got := out.RGBAAt(width/2, barY); got.G < 250 {
				t.Errorf("bar's middle %v, want jet's green", got)
			}
		})
	}
}

func countInk(m *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if p := m.RGBAAt(x, y); p.R < 100 && p.G < 100 && p.B < 100 {
				n++
			}
		}
	}
	return n
}

func TestTitleFits(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	crop, err := CenterCrop(64, 64, 36, 32)
	if err != nil {
		t.Fatal(err)
	}
	label := strings.Repeat("Long-tailed Widowbird ", 10)
	l, err := newLegend(MinWidth, Options{Label: label, Probability: 0.5}, 0, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(l.title, "…") || textWidth(l.bold, l.title) > MinWidth-2*l.pad || utf8.RuneCountInString(l.title) < 10 {
		t.Errorf("title %q (%d pixels) for a %d-pixel line", l.title, textWidth(l.bold, l.title), MinWidth-2*l.pad)
	}
	if _, err := Overlay(img, Map{H: 1, W: 1, V: []float32{1}}, crop, Options{Label: label}); err != nil {
		t.Error(err)
	}
}

func TestOverlayErrors(t *testing.T) {
	crop, err := CenterCrop(40, 30, 36, 32)
	if err != nil {
		t.Fatal(err)
	}
	good := Map{H: 1, W: 1, V: []float32{1}}
	for _, c := range []struct {
		name string
		img  image.Image
		m    Map
		o    Options
		want string
	}{
		{"image size", image.NewRGBA(image.Rect(0, 0, 30, 40)), good, Options{}, "a 30×40 image for a crop of a 40×30 one"},
		{"map size", image.NewRGBA(image.Rect(0, 0, 40, 30)), Map{H: 2, W: 2, V: []float32{1}}, Options{}, "a 2×2 map with 1 values"},
		{"empty map", image.NewRGBA(image.Rect(0, 0, 40, 30)), Map{}, Options{}, "a 0×0 map"},
		{"opacity", image.NewRGBA(image.Rect(0, 0, 40, 30)), good, Options{Alpha: 1.5}, "opacity 1.5"},
	} {
		if _, err := Overlay(c.img, c.m, crop, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestOverlayNotAtOrigin: an image whose bounds do not start at (0, 0) (a SubImage) is drawn from its
// own top-left corner.
func TestOverlayNotAtOrigin(t *testing.T) {
	big := image.NewRGBA(image.Rect(0, 0, 600, 600))
	for y := range 600 {
		for x := range 600 {
			if x >= 300 {
				big.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
			}
		}
	}
	sub := big.SubImage(image.Rect(300, 0, 600, 300)) // all white
	crop, err := CenterCrop(300, 300, 36, 32)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Overlay(sub, Map{H: 1, W: 1, V: []float32{0}}, crop, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.RGBAAt(0, 0).R, Outside(255, 255, 255); got != want {
		t.Errorf("corner %d, want the dimmed white %d", got, want)
	}
}

func TestMapAt(t *testing.T) {
	crop, err := CenterCrop(64, 64, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	m := Map{H: 2, W: 2, V: []float32{0, 1, 2, float32(math.NaN())}}
	for _, c := range []struct {
		x, y float64
		v    float64
		ok   bool
	}{
		{16, 16, 0, true}, // cell centres
		{48, 16, 1, true},
		{16, 48, 2, true},
		{32, 16, 0.5, true}, // halfway between
		{0, 0, 0, true},     // held beyond the outer centres
		{63.9, 0, 1, true},
		{64, 0, 0, false}, // outside the crop
		{-0.1, 10, 0, false},
		{48, 48, 0, false}, // not finite
	} {
		v, ok := m.At(crop, c.x, c.y)
		if ok != c.ok || (ok && math.Abs(v-c.v) > 1e-9) {
			t.Errorf("At(%g, %g) = %g, %v; want %g, %v", c.x, c.y, v, ok, c.v, c.ok)
		}
	}
	if lo, hi, ok := m.Range(); lo != 0 || hi != 2 || !ok {
		t.Errorf("Range = %g, %g, %v; want 0, 2, true", lo, hi, ok)
	}
}

func TestGrid(t *testing.T) {
	solid := func(w, h int, c color.RGBA) image.Image {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < len(m.Pix); i += 4 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
		}
		return m
	}
	colours := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 0, 255, 255}}
	cells := [][]image.Image{
		{solid(30, 20, colours[0]), solid(50, 10, colours[1])},
		{solid(40, 25, colours[2]), solid(20, 30, colours[3])},
	}
	out, err := Grid(cells, []string{"none", "csca"}, []string{"first", "second"}, "line one\nline two")
	if err != nil {
		t.Fatal(err)
	}
	// Each colour's bounding box is its cell's size, columns and rows in order.
	var boxes []image.Rectangle
	for i, c := range colours {
		box := image.Rectangle{}
		for y := range out.Bounds().Dy() {
			for x := range out.Bounds().Dx() {
				if out.RGBAAt(x, y) == c {
					box = box.Union(image.Rect(x, y, x+1, y+1))
				}
			}
		}
		if want := cells[i/2][i%2].Bounds().Size(); box.Size() != want {
			t.Errorf("cell %d is %v, want %v", i, box, want)
		}
		boxes = append(boxes, box)
	}
	if !(boxes[0].Min.X == boxes[2].Min.X && boxes[1].Min.X >= boxes[2].Max.X && boxes[0].Min.Y == boxes[1].Min.Y && boxes[2].Min.Y >= boxes[0].Max.Y) {
		t.Errorf("cells at %v, want a 2×2 grid, columns as wide as their widest cell", boxes)
	}
	if n := countInk(out, image.Rect(0, 0, out.Bounds().Dx(), boxes[0].Min.Y)); n < 20 {
		t.Errorf("%d dark pixels above the cells, want the title and column names", n)
	}
	if n := countInk(out, image.Rect(0, boxes[0].Max.Y, out.Bounds().Dx(), boxes[2].Min.Y)); n < 10 {
		t.Errorf("%d dark pixels between the rows, want the second row's title", n)
	}
	for _, c := range []struct {
		cells      [][]image.Image
		cols, rows []string
	}{
		{nil, []string{"a"}, nil},
		{[][]image.Image{{nil}}, nil, nil},
		{[][]image.Image{{nil, nil}}, []string{"a"}, nil},
		{[][]image.Image{{nil}}, []string{"a"}, []string{"r", "s"}},
	} {
		if _, err := Grid(c.cells, c.cols, c.rows, ""); err == nil {
			t.Errorf("Grid of %d rows, %d columns, %d row titles: no error", len(c.cells), len(c.cols), len(c.rows))
		}
	}
}
