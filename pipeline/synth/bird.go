package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Parts whose boxes and key points a sample records (CUB's part_locs.txt; the discriminative region
// of each attribute).
const (
	partBeak = iota
	partCrown
	partEye
	partWing
	partTail
	numParts
)

var partNames = [numParts]string{"beak", "crown", "eye", "wing", "tail"}

// Colours of the attributes; distractors in the background reuse them.
var (
	wingBarColours = []rgb{{0.86, 0.12, 0.10}, {0.96, 0.82, 0.14}, {0.96, 0.96, 0.93}, {0.14, 0.34, 0.90}, {0.05, 0.05, 0.06}}
	eyeRingColours = []rgb{{}, {0.97, 0.97, 0.95}, {0.98, 0.78, 0.08}}
	black          = rgb{0.05, 0.05, 0.06}
	white          = rgb{0.96, 0.96, 0.93}
	cream          = rgb{0.93, 0.88, 0.76}
)

// partColours is the palette distractors draw from: every attribute colour, with black and white.
var partColours = append(append([]rgb{black, white}, wingBarColours...), eyeRingColours[1:]...)

// random draws numbers from PCG, a generator whose output is fixed by its definition, so that a
// benchmark depends only on its seed.
type random struct{ p *rand.PCG }

func newRandom(seed, stream uint64) *random { return &random{rand.NewPCG(seed, stream)} }

func (r *random) float() float64               { return float64(r.p.Uint64()>>11) / (1 << 53) }
func (r *random) uniform(a, b float64) float64 { return a + (b-a)*r.float() }
func (r *random) intn(n int) int               { return int(r.p.Uint64() % uint64(n)) }
func (r *random) chance(p float64) bool        { return r.float() < p }
func (r *random) sym(a float64) float64        { return r.uniform(-a, a) }

// part is where a part of the bird is in a sample.
type part struct {
	x, y    float64 // its key point in pixels
	visible bool    // the key point is in the image and not hidden by an occluder
}

// sample is one rendered image with what is known about it.
type sample struct {
	img     *image.RGBA
	bird    image.Rectangle // pixels of the bird (before occlusion)
	parts   [numParts]part
	regions [numAttrs]image.Rectangle // where each attribute shows (or would show, for "none")
}

// render draws image index of species sp. The image is a function of (seed, species, index, size,
// difficulty) only: the species' place among all species, not its class id in the benchmark.
func render(sp Species, size int, difficulty float64, seed uint64, index int) *sample {
	r := newRandom(seed, uint64(sp.Index)<<32|uint64(index))
	d := difficulty
	s := float64(size)
	c := newCanvas(size, size)

	// Background: a vertical gradient, soft foliage blobs, a branch, and distractors in part colours.
	top := hsv(r.uniform(0, 360), r.uniform(0.05, 0.45), r.uniform(0.45, 0.95))
	bottom := hsv(r.uniform(0, 360), r.uniform(0.05, 0.5), r.uniform(0.25, 0.8))
	for y := range size {
		col := top.mix(bottom, float64(y)/s)
		for x := range size {
			i := 3 * (y*size + x)
			c.pix[i], c.pix[i+1], c.pix[i+2] = col[0], col[1], col[2]
		}
	}
	for range 3 + int(math.Round(5*d)) {
		col := hsv(r.uniform(0, 360), r.uniform(0.1, 0.6), r.uniform(0.2, 0.9))
		c.fill(newEllipse(r.uniform(0, s), r.uniform(0, s), r.uniform(0.08, 0.3)*s, r.uniform(0.05, 0.2)*s, r.sym(math.Pi)),
			identity, col, float32(r.uniform(0.25, 0.6)))
	}
	distractor := func(scale float64) {
		col := partColours[r.intn(len(partColours))]
		if r.chance(0.3) {
			col = hsv(r.uniform(0, 360), r.uniform(0.3, 1), r.uniform(0.3, 1))
		}
		x, y, a := r.uniform(0, s), r.uniform(0, s), r.sym(math.Pi)
		l := r.uniform(0.02, 0.07) * s * scale
		var sh shape
		switch r.intn(4) {
		case 0: // berry
			sh = circle(x, y, l*0.6)
		case 1: // leaf
			sh = newEllipse(x, y, l*1.4, l*0.5, a)
		case 2: // streak, like a wing bar
			sh = rect(x, y, l*1.3, l*0.22, a)
		default: // petal
			sh = newPolygon([2]float64{x, y}, [2]float64{x + l*math.Cos(a), y + l*math.Sin(a)}, [2]float64{x + l*math.Cos(a+0.9), y + l*math.Sin(a+0.9)})
		}
		c.fill(sh, identity, col, float32(r.uniform(0.7, 1)))
	}
	for range 4 + int(math.Round(16*d)) {
		distractor(1)
	}

	// The bird's pose: body length l in pixels (the whole bird is about 1.7 l wide), mirroring,
	// rotation and position.
	l := s * r.uniform(0.36-0.1*d, 0.44)
	angle := r.sym(0.15 + 0.45*d)
	flip := r.chance(0.5)
	slack := max(s-1.75*l, 0) / 2
	t := newXform(s/2+r.sym(slack), s/2+r.sym(slack)+0.05*l, l, angle, flip)

	// A branch under the feet.
	branch := hsv(r.uniform(15, 40), r.uniform(0.3, 0.6), r.uniform(0.2, 0.45))
	c.fill(rect(r.sym(0.2), 0.47, 1.2, 0.035, r.sym(0.25)), t, branch, 1)

	// Colours of this bird: body shade, lighter belly, darker wing; none depends on the species.
	body := hsv(r.uniform(15, 75), r.uniform(0.2, 0.6), r.uniform(0.35, 0.72))
	if r.chance(0.3) {
		body = hsv(r.uniform(0, 360), r.uniform(0, 0.12), r.uniform(0.35, 0.7))
	}
	head := body.scale(r.uniform(0.9, 1.1))
	belly := body.mix(cream, r.uniform(0.35, 0.65))
	wing := body.scale(r.uniform(0.55, 0.75))
	beakCol := hsv(r.uniform(20, 45), r.uniform(0.2, 0.5), r.uniform(0.15, 0.35))
	legs := beakCol.scale(1.2)

	// Shape jitter inside the species.
	tailLift := r.sym(0.12)
	headX, headY := 0.40+r.sym(0.02), -0.22+r.sym(0.02)
	headR := 0.18 * r.uniform(0.93, 1.07)
	wingX, wingA := -0.08+r.sym(0.03), -0.22+r.sym(0.08)

	smp := &sample{}
	var birdBox image.Rectangle
	draw := func(sh shape, col rgb) { birdBox = birdBox.Union(c.fill(sh, t, col, 1)) }

	// Tail, behind the body, and its pattern.
	ct, st := math.Cos(tailLift), math.Sin(tailLift)
	tp := func(u, v float64) [2]float64 { // u along the tail from its root (0) to its tip (1)
		x, y := -0.30-0.55*u, 0.03+0.14*v*(1+0.25*u)
		return [2]float64{-0.30 + (x+0.30)*ct - (y-0.03)*st, 0.03 + (x+0.30)*st + (y-0.03)*ct}
	}
	tail := newPolygon(tp(0, -0.5), tp(1, -0.5), tp(1, 0.5), tp(0, 0.5))
	draw(tail, wing)
	switch sp.attrs[attrTail] {
	case 1: // two dark bands
		for _, u := range []float64{0.5, 0.78} {
			draw(newPolygon(tp(u, -0.6), tp(u+0.09, -0.6), tp(u+0.09, 0.6), tp(u, 0.6)), black)
		}
	case 2: // white tip
		draw(newPolygon(tp(0.78, -0.6), tp(1.01, -0.6), tp(1.01, 0.6), tp(0.78, 0.6)), white)
	}

	// Legs.
	for _, x := range []float64{-0.06, 0.06} {
		draw(newPolygon([2]float64{x - 0.015, 0.18}, [2]float64{x + 0.015, 0.18}, [2]float64{x + 0.01, 0.47}, [2]float64{x - 0.01, 0.47}), legs)
	}

	// Crest, behind the head.
	crown := [2]float64{headX - 0.02, headY - headR}
	switch sp.attrs[attrCrest] {
	case 1: // one short tuft
		draw(newPolygon([2]float64{headX - 0.09, headY - 0.1}, [2]float64{headX + 0.05, headY - 0.14}, [2]float64{headX - 0.1, headY - headR - 0.13}), wing)
	case 2: // a tall crest of three plumes
		for i, a := range []float64{-0.55, -0.25, 0.05} {
			base := [2]float64{headX - 0.02 + 0.04*float64(i-1), headY - 0.08}
			tip := [2]float64{base[0] + 0.27*math.Sin(a) - 0.05, base[1] - 0.27*math.Cos(a)}
			draw(newPolygon([2]float64{base[0] - 0.04, base[1]}, [2]float64{base[0] + 0.04, base[1]}, tip), wing)
		}
	}

	// Body, belly, wing and wing bar.
	draw(newEllipse(0, 0, 0.40, 0.25, -0.12), body)
	draw(newEllipse(0.06, 0.09, 0.28, 0.14, -0.1), belly)
	wingShape := newEllipse(wingX, -0.02, 0.30, 0.13, wingA)
	draw(wingShape, wing)
	barAngle := wingA + math.Pi/2 - 0.35
	bar := intersection{wingShape, rect(wingX+0.06*math.Cos(wingA), -0.02+0.06*math.Sin(wingA), 0.045, 0.3, barAngle-math.Pi/2)}
	draw(bar, wingBarColours[sp.attrs[attrWingBar]])

	// Head, eye ring and eye.
	draw(circle(headX, headY, headR), head)
	eyeX, eyeY := headX+0.06, headY-0.03
	if ring := sp.attrs[attrEyeRing]; ring > 0 {
		draw(circle(eyeX, eyeY, 0.072), eyeRingColours[ring])
	}
	draw(circle(eyeX, eyeY, 0.038), black)

	// Beak, from the front of the head.
	bx, by := headX+headR*0.85, headY+0.02
	switch sp.attrs[attrBeak] {
	case 0: // short and deep: a seed eater
		draw(newPolygon([2]float64{bx - 0.02, by - 0.065}, [2]float64{bx + 0.15, by + 0.005}, [2]float64{bx - 0.02, by + 0.065}), beakCol)
	case 1: // long and thin
		draw(newPolygon([2]float64{bx - 0.02, by - 0.03}, [2]float64{bx + 0.26, by + 0.01}, [2]float64{bx - 0.02, by + 0.03}), beakCol)
	case 2: // hooked
		draw(newPolygon([2]float64{bx - 0.02, by - 0.06}, [2]float64{bx + 0.14, by - 0.035}, [2]float64{bx - 0.02, by + 0.045}), beakCol)
		draw(newPolygon([2]float64{bx + 0.09, by - 0.05}, [2]float64{bx + 0.16, by - 0.035}, [2]float64{bx + 0.13, by + 0.045}), beakCol)
	}

	box := func(x0, y0, x1, y1 float64) image.Rectangle {
		return c.pixelBounds(newPolygon([2]float64{x0, y0}, [2]float64{x1, y0}, [2]float64{x1, y1}, [2]float64{x0, y1}), t)
	}
	smp.regions = [numAttrs]image.Rectangle{
		attrWingBar: c.pixelBounds(bar, t),
		attrEyeRing: box(eyeX-0.08, eyeY-0.08, eyeX+0.08, eyeY+0.08),
		attrCrest:   box(headX-0.22, headY-0.37, headX+0.08, headY-headR+0.02),
		attrTail:    c.pixelBounds(newPolygon(tp(0.45, -0.6), tp(1.02, -0.6), tp(1.02, 0.6), tp(0.45, 0.6)), t),
		attrBeak:    box(bx-0.02, by-0.07, bx+0.27, by+0.07),
	}

	keys := [numParts][2]float64{
		partBeak:  {bx + 0.08, by},
		partCrown: crown,
		partEye:   {eyeX, eyeY},
		partWing:  {wingX, -0.02},
		partTail:  tp(0.6, 0),
	}

	// Occluders: leaves in front of the bird.
	var occluders []shape
	for range 2 {
		if !r.chance(0.6 * d) {
			continue
		}
		ox, oy := r.uniform(-0.6, 0.6), r.uniform(-0.35, 0.3)
		leaf := newEllipse(ox, oy, r.uniform(0.1, 0.22), r.uniform(0.04, 0.09), r.sym(math.Pi))
		c.fill(leaf, t, hsv(r.uniform(70, 150), r.uniform(0.3, 0.7), r.uniform(0.25, 0.6)), 1)
		occluders = append(occluders, leaf)
	}

	// More distractors at high difficulty can overlap the bird's outline too.
	for range int(math.Round(4 * d)) {
		distractor(0.7)
	}

	// Lighting: exposure, colour cast, a directional gradient; then sensor noise.
	gain := math.Exp(r.sym(0.1 + 0.3*d))
	var cast [3]float64
	for i := range cast {
		cast[i] = gain * (1 + r.sym(0.03+0.1*d))
	}
	la := r.uniform(0, 2*math.Pi)
	lx, ly := math.Cos(la)*(0.05+0.25*d)/s, math.Sin(la)*(0.05+0.25*d)/s
	// Noise: per channel the sum of two 16-bit uniforms (a triangular distribution, standard
	// deviation 1/sqrt(6) of its half-width), six of them from two draws per pixel.
	sigma := (1.5 + 5*d) / 255
	amp := float32(sigma * math.Sqrt(6) / 65536)
	for y := range size {
		for x := range size {
			g := 1 + lx*(float64(x)-s/2) + ly*(float64(y)-s/2)
			i := 3 * (y*size + x)
			u, v := r.p.Uint64(), r.p.Uint64()
			tri := [3]float32{
				float32(int(u&0xffff)+int(u>>16&0xffff)-65536) * amp,
				float32(int(u>>32&0xffff)+int(u>>48)-65536) * amp,
				float32(int(v&0xffff)+int(v>>16&0xffff)-65536) * amp,
			}
			for k := range 3 {
				c.pix[i+k] = c.pix[i+k]*float32(g*cast[k]) + tri[k]
			}
		}
	}

	smp.img = c.rgba()
	smp.bird = birdBox
	for p := range numParts {
		px, py := t.apply(keys[p][0], keys[p][1])
		vis := px >= 0 && py >= 0 && px < s && py < s
		for _, o := range occluders {
			if inside(o, t, px, py) {
				vis = false
			}
		}
		smp.parts[p] = part{x: px, y: py, visible: vis}
	}
	return smp
}
