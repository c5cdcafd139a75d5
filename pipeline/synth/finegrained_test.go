package synth

import (
	"image"
	"math"
	"testing"
)

// histogram is a normalised 4×4×4 joint RGB histogram of the pixels of img inside r.
func histogram(img *image.RGBA, r image.Rectangle) []float64 {
	h := make([]float64, 64)
	r = r.Intersect(img.Bounds())
	n := 0.0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := img.PixOffset(x, y)
			p := img.Pix[i : i+3 : i+3]
			h[int(p[0]>>6)*16+int(p[1]>>6)*4+int(p[2]>>6)]++
			n++
		}
	}
	for i := range h {
		h[i] = math.Sqrt(h[i] / max(n, 1)) // Hellinger: small bins, like a wing bar's colour, count
	}
	return h
}

// edges is a global shape statistic: the histogram of gradient orientations (8 bins, weighted by
// magnitude) over 4×4 cells of the grey image, with the mean edge strength.
func edges(img *image.RGBA) []float64 {
	b := img.Bounds()
	grey := func(x, y int) float64 {
		i := img.PixOffset(x, y)
		return 0.299*float64(img.Pix[i]) + 0.587*float64(img.Pix[i+1]) + 0.114*float64(img.Pix[i+2])
	}
	h := make([]float64, 4*4*8+1)
	for y := b.Min.Y + 1; y < b.Max.Y-1; y++ {
		for x := b.Min.X + 1; x < b.Max.X-1; x++ {
			gx, gy := grey(x+1, y)-grey(x-1, y), grey(x, y+1)-grey(x, y-1)
			m := math.Hypot(gx, gy)
			o := int((math.Atan2(gy, gx)+math.Pi)/(2*math.Pi)*8) % 8
			cell := (y-b.Min.Y)*4/b.Dy()*4 + (x-b.Min.X)*4/b.Dx()
			h[cell*8+o] += m
			h[len(h)-1] += m
		}
	}
	total := h[len(h)-1]
	for i := range h[:len(h)-1] {
		h[i] = math.Sqrt(h[i] / max(total, 1))
	}
	h[len(h)-1] /= float64(b.Dx() * b.Dy() * 255)
	return h
}

// nearestMean trains a nearest-class-mean classifier on (x, y) pairs with train[i] set and returns
// its accuracy on the others.
func nearestMean(x [][]float64, y []int, train []bool, classes int) float64 {
	means := make([][]float64, classes)
	counts := make([]float64, classes)
	for c := range means {
		means[c] = make([]float64, len(x[0]))
	}
	for i := range x {
		if train[i] {
			for k, v := range x[i] {
				means[y[i]][k] += v
			}
			counts[y[i]]++
		}
	}
	for c := range means {
		for k := range means[c] {
			means[c][k] /= max(counts[c], 1)
		}
	}
	right, total := 0, 0
	for i := range x {
		if train[i] {
			continue
		}
		best, bestD := -1, 0.0
		for c := range means {
			d := 0.0
			for k, v := range x[i] {
				d += (v - means[c][k]) * (v - means[c][k])
			}
			if best < 0 || d < bestD {
				best, bestD = c, d
			}
		}
		if best == y[i] {
			right++
		}
		total++
	}
	return float64(right) / float64(total)
}

// TestFineGrained checks the property the benchmark exists for: the classes cannot be told apart by
// the global colour or shape statistics of an image (a nearest-class-mean classifier on colour
// histograms, or on edge-orientation histograms, is near chance), while the colour attributes can be read from the region of their part with the same
// classifier. (TestAttributesAreLocal covers the shape attributes.)
func TestFineGrained(t *testing.T) {
	classes, per := 20, 20
	if testing.Short() {
		classes, per = 15, 12
	}
	cfg := Config{Size: 128, Difficulty: 0.5, Seed: 3}
	var (
		global  [][]float64
		shapes  [][]float64
		regions [numAttrs][][]float64
		labels  []int
		values  [numAttrs][]int
		train   []bool
	)
	for k := range classes {
		sp := speciesOf(k * 19) // spread over the species (19 is prime to the radices), so every attribute varies
		for j := range per {
			s := render(sp, cfg.Size, cfg.Difficulty, cfg.Seed, j)
			global = append(global, histogram(s.img, s.img.Bounds()))
			shapes = append(shapes, edges(s.img))
			for a := range numAttrs {
				regions[a] = append(regions[a], histogram(s.img, s.regions[a]))
				values[a] = append(values[a], sp.attrs[a])
			}
			labels = append(labels, k)
			train = append(train, j%2 == 0)
		}
	}
	chance := 1 / float64(classes)
	globalAcc := nearestMean(global, labels, train, classes)
	t.Logf("global colour histogram: %.3f accuracy over %d classes (chance %.3f)", globalAcc, classes, chance)
	if globalAcc > 2.5*chance {
		t.Errorf("global colour histograms separate the classes: accuracy %.3f, chance %.3f", globalAcc, chance)
	}
	shapeAcc := nearestMean(shapes, labels, train, classes)
	t.Logf("global edge-orientation histogram: %.3f accuracy", shapeAcc)
	if shapeAcc > 2.5*chance {
		t.Errorf("global edge statistics separate the classes: accuracy %.3f, chance %.3f", shapeAcc, chance)
	}
	for _, a := range []int{attrWingBar, attrEyeRing, attrTail} {
		n := len(attributes[a].values)
		partAcc := nearestMean(regions[a], values[a], train, n)
		globalAttr := nearestMean(global, values[a], train, n)
		t.Logf("%s (%d values): %.3f from its part's box, %.3f from the whole image", attributes[a].name, n, partAcc, globalAttr)
		if partAcc < 0.6 || partAcc < globalAttr+0.25 {
			t.Errorf("%s is not recoverable from its part: %.3f from the part, %.3f globally", attributes[a].name, partAcc, globalAttr)
		}
	}
}

// TestAttributesAreLocal renders the same bird with one attribute changed: the pixels that change
// must be few and all inside that attribute's region, so classes differ only in small parts.
func TestAttributesAreLocal(t *testing.T) {
	const size = 128
	n := 24
	if testing.Short() {
		n = 8
	}
	for i := range n {
		sp := speciesOf(i * 17 % MaxClasses)
		base := render(sp, size, 0.5, 5, i)
		for a := range numAttrs {
			other := sp
			other.attrs[a] = (sp.attrs[a] + 1 + i%2) % len(attributes[a].values)
			s := render(other, size, 0.5, 5, i)
			if s.regions[a] != base.regions[a] {
				t.Fatalf("sample %d: %s region moved with the attribute", i, attributes[a].name)
			}
			region := base.regions[a].Inset(-1)
			changed, outside := 0, 0
			for p := 0; p < len(s.img.Pix); p += 4 {
				diff := 0
				for k := range 3 {
					diff = max(diff, absDiff(s.img.Pix[p+k], base.img.Pix[p+k]))
				}
				if diff <= 2 {
					continue
				}
				changed++
				if !image.Pt(p/4%size, p/4/size).In(region) {
					outside++
				}
			}
			if changed == 0 || outside > 0 || changed > size*size/25 {
				t.Errorf("sample %d, %s %s -> %s: %d pixels changed, %d outside its region %v (want some, none outside, under 4%%)",
					i, attributes[a].name, attributes[a].values[sp.attrs[a]], attributes[a].values[other.attrs[a]], changed, outside, region)
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
