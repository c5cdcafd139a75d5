package synth

import (
	"image"
	"math"
)

// A small anti-aliased rasteriser: shapes are signed distance functions in a local frame, drawn
// through a similarity transform; the coverage of a pixel is 0.5 minus its centre's distance to the
// edge, clamped to [0, 1], which gives one-pixel anti-aliased edges at one evaluation per pixel.

// rgb is a colour with channels in [0, 1].
type rgb [3]float32

func (c rgb) scale(f float64) rgb {
	return rgb{clamp01(float32(f) * c[0]), clamp01(float32(f) * c[1]), clamp01(float32(f) * c[2])}
}

func (c rgb) mix(o rgb, t float64) rgb {
	f := float32(t)
	return rgb{c[0] + (o[0]-c[0])*f, c[1] + (o[1]-c[1])*f, c[2] + (o[2]-c[2])*f}
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// hsv returns the colour of hue h (degrees), saturation s and value v in [0, 1].
func hsv(h, s, v float64) rgb {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := v - c
	return rgb{float32(r + m), float32(g + m), float32(b + m)}
}

// canvas is an RGB image of float32 channels, row-major.
type canvas struct {
	w, h int
	pix  []float32
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, pix: make([]float32, 3*w*h)} }

// xform maps a shape's local coordinates to pixels: p = c + scale·R(angle)·(flip·x, y).
type xform struct {
	cx, cy, scale, cos, sin, flip float64
}

func newXform(cx, cy, scale, angle float64, flip bool) xform {
	f := 1.0
	if flip {
		f = -1
	}
	return xform{cx: cx, cy: cy, scale: scale, cos: math.Cos(angle), sin: math.Sin(angle), flip: f}
}

func (t xform) apply(x, y float64) (float64, float64) {
	x *= t.flip
	return t.cx + t.scale*(t.cos*x-t.sin*y), t.cy + t.scale*(t.sin*x+t.cos*y)
}

func (t xform) inverse(px, py float64) (float64, float64) {
	dx, dy := (px-t.cx)/t.scale, (py-t.cy)/t.scale
	return (t.cos*dx + t.sin*dy) * t.flip, -t.sin*dx + t.cos*dy
}

// identity draws in pixel coordinates.
var identity = xform{scale: 1, cos: 1, flip: 1}

// shape is a region given by its signed distance (negative inside, in local units) and bounds.
type shape interface {
	dist(x, y float64) float64
	bounds() (x0, y0, x1, y1 float64)
}

// ellipse centred at (cx, cy) with radii rx, ry, turned by angle.
type ellipse struct {
	cx, cy, rx, ry float64
	cos, sin       float64
}

func newEllipse(cx, cy, rx, ry, angle float64) *ellipse {
	return &ellipse{cx: cx, cy: cy, rx: rx, ry: ry, cos: math.Cos(angle), sin: math.Sin(angle)}
}

func circle(cx, cy, r float64) *ellipse { return newEllipse(cx, cy, r, r, 0) }

func (e *ellipse) dist(x, y float64) float64 {
	dx, dy := x-e.cx, y-e.cy
	u, v := e.cos*dx+e.sin*dy, -e.sin*dx+e.cos*dy
	a2, b2 := e.rx*e.rx, e.ry*e.ry
	f := u*u/a2 + v*v/b2 - 1
	g := 2 * math.Sqrt(u*u/(a2*a2)+v*v/(b2*b2))
	if g < 1e-9 {
		return -min(e.rx, e.ry)
	}
	return f / g // first-order distance: exact on the edge, where anti-aliasing happens
}

func (e *ellipse) bounds() (float64, float64, float64, float64) {
	// Half-extents of a turned ellipse.
	hx := math.Sqrt(e.rx*e.rx*e.cos*e.cos + e.ry*e.ry*e.sin*e.sin)
	hy := math.Sqrt(e.rx*e.rx*e.sin*e.sin + e.ry*e.ry*e.cos*e.cos)
	return e.cx - hx, e.cy - hy, e.cx + hx, e.cy + hy
}

// polygon is a convex polygon; its distance is the largest signed distance to an edge line (exact
// inside and along edges, slightly small near outside corners).
type polygon struct {
	nx, ny  []float64 // outward unit normals of the edges
	offsets []float64 // n·a for a point a of each edge
	x0, y0  float64   // bounds
	x1, y1  float64
}

func newPolygon(pts ...[2]float64) *polygon {
	p := &polygon{x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1)}
	area := 0.0
	for i, a := range pts {
		b := pts[(i+1)%len(pts)]
		area += a[0]*b[1] - b[0]*a[1]
	}
	sign := 1.0
	if area < 0 {
		sign = -1
	}
	for i, a := range pts {
		b := pts[(i+1)%len(pts)]
		ex, ey := b[0]-a[0], b[1]-a[1]
		l := math.Hypot(ex, ey)
		if l == 0 {
			continue
		}
		nx, ny := sign*ey/l, -sign*ex/l
		p.nx, p.ny = append(p.nx, nx), append(p.ny, ny)
		p.offsets = append(p.offsets, nx*a[0]+ny*a[1])
		p.x0, p.y0, p.x1, p.y1 = min(p.x0, a[0]), min(p.y0, a[1]), max(p.x1, a[0]), max(p.y1, a[1])
	}
	return p
}

// rect is the polygon of a rectangle centred at (cx, cy), of half sizes hx, hy, turned by angle.
func rect(cx, cy, hx, hy, angle float64) *polygon {
	c, s := math.Cos(angle), math.Sin(angle)
	pt := func(u, v float64) [2]float64 { return [2]float64{cx + c*u - s*v, cy + s*u + c*v} }
	return newPolygon(pt(-hx, -hy), pt(hx, -hy), pt(hx, hy), pt(-hx, hy))
}

func (p *polygon) dist(x, y float64) float64 {
	d := math.Inf(-1)
	for i := range p.nx {
		d = max(d, p.nx[i]*x+p.ny[i]*y-p.offsets[i])
	}
	return d
}

func (p *polygon) bounds() (float64, float64, float64, float64) { return p.x0, p.y0, p.x1, p.y1 }

// intersection is the region inside both shapes.
type intersection struct{ a, b shape }

func (s intersection) dist(x, y float64) float64 { return max(s.a.dist(x, y), s.b.dist(x, y)) }

func (s intersection) bounds() (float64, float64, float64, float64) {
	ax0, ay0, ax1, ay1 := s.a.bounds()
	bx0, by0, bx1, by1 := s.b.bounds()
	return max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
}

// pixelBounds returns the pixels a shape can touch under t, clipped to the canvas.
func (c *canvas) pixelBounds(sh shape, t xform) image.Rectangle {
	x0, y0, x1, y1 := sh.bounds()
	if x0 > x1 || y0 > y1 {
		return image.Rectangle{}
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range [4][2]float64{{x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}} {
		px, py := t.apply(p[0], p[1])
		minX, minY, maxX, maxY = min(minX, px), min(minY, py), max(maxX, px), max(maxY, py)
	}
	r := image.Rect(int(math.Floor(minX))-1, int(math.Floor(minY))-1, int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1)
	return r.Intersect(image.Rect(0, 0, c.w, c.h))
}

// fill paints shape sh under t with colour col at opacity alpha, and returns the box of the pixels
// it covers at least half.
func (c *canvas) fill(sh shape, t xform, col rgb, alpha float32) image.Rectangle {
	r := c.pixelBounds(sh, t)
	covered := image.Rectangle{}
	for py := r.Min.Y; py < r.Max.Y; py++ {
		row := 3 * py * c.w
		for px := r.Min.X; px < r.Max.X; px++ {
			lx, ly := t.inverse(float64(px)+0.5, float64(py)+0.5)
			cov := 0.5 - sh.dist(lx, ly)*t.scale
			if cov <= 0 {
				continue
			}
			if cov >= 0.5 {
				covered = covered.Union(image.Rect(px, py, px+1, py+1))
			}
			a := alpha * float32(min(cov, 1))
			i := row + 3*px
			c.pix[i] += (col[0] - c.pix[i]) * a
			c.pix[i+1] += (col[1] - c.pix[i+1]) * a
			c.pix[i+2] += (col[2] - c.pix[i+2]) * a
		}
	}
	return covered
}

// inside reports whether pixel point (px, py) lies inside shape sh drawn under t.
func inside(sh shape, t xform, px, py float64) bool {
	lx, ly := t.inverse(px, py)
	return sh.dist(lx, ly) < 0
}

// rgba converts the canvas to an 8-bit image.
func (c *canvas) rgba() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
	for i, j := 0, 0; i < len(c.pix); i, j = i+3, j+4 {
		img.Pix[j] = uint8(clamp01(c.pix[i])*255 + 0.5)
		img.Pix[j+1] = uint8(clamp01(c.pix[i+1])*255 + 0.5)
		img.Pix[j+2] = uint8(clamp01(c.pix[i+2])*255 + 0.5)
		img.Pix[j+3] = 255
	}
	return img
}
