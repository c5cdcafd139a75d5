package camviz

import (
	"fmt"
	"image"
	"math"

	"github.com/finegrain/finegrain/pipeline"
)

// Crop is where the evaluation transforms' input lies in an image: the W×H image is resized so that
// its shorter side is the resize size (RW×RH), and the Size×Size centre of that is the model's input.
type Crop struct {
	W, H   int             // the original image
	RW, RH int             // the resized image
	Rect   image.Rectangle // the crop, in resized pixels
}

// CenterCrop returns the geometry of Resize(resize) + CenterCrop(size) of a w×h image, as package
// pipeline's evaluation transforms compute it (pipeline.EvalCrop).
func CenterCrop(w, h, resize, size int) (Crop, error) {
	if w < 1 || h < 1 || size < 1 || resize < size {
		return Crop{}, fmt.Errorf("camviz: no %d crop of a %d×%d image resized to %d", size, w, h, resize)
	}
	c := Crop{W: w, H: h}
	c.RW, c.RH, c.Rect = pipeline.EvalCrop(w, h, resize, size)
	return c, nil
}

// ToOriginal maps a point of the crop (continuous crop pixels, (0, 0) its top-left corner) to the
// original image. The resize maps coordinates linearly (PIL's resize with the whole image as its box),
// so pixel centres and edges map alike.
func (c Crop) ToOriginal(x, y float64) (float64, float64) {
	return (x + float64(c.Rect.Min.X)) * float64(c.W) / float64(c.RW),
		(y + float64(c.Rect.Min.Y)) * float64(c.H) / float64(c.RH)
}

// FromOriginal is the inverse of ToOriginal.
func (c Crop) FromOriginal(x, y float64) (float64, float64) {
	return x*float64(c.RW)/float64(c.W) - float64(c.Rect.Min.X),
		y*float64(c.RH)/float64(c.H) - float64(c.Rect.Min.Y)
}

// Map is one class's activation map: H×W values, row-major, over the crop. Cell (i, j) stands for the
// crop's region [j, j+1)·Size/W × [i, i+1)·Size/H, the usual reading of a CNN's last feature map.
type Map struct {
	H, W int
	V    []float32
}

func (m Map) validate() error {
	if m.H < 1 || m.W < 1 || len(m.V) != m.H*m.W {
		return fmt.Errorf("camviz: a %d×%d map with %d values", m.H, m.W, len(m.V))
	}
	return nil
}

// At is the map at a point of the original image, bilinearly interpolated between cell centres and
// held constant beyond the outer centres. ok is false outside the crop, where the model saw nothing,
// and where every cell that would contribute is not finite.
func (m Map) At(c Crop, x, y float64) (v float64, ok bool) {
	cx, cy := c.FromOriginal(x, y)
	size := float64(c.Rect.Dx())
	if cx < 0 || cy < 0 || cx >= size || cy >= size {
		return 0, false
	}
	fx := cx*float64(m.W)/size - 0.5
	fy := cy*float64(m.H)/size - 0.5
	x0, y0 := math.Floor(fx), math.Floor(fy)
	dx, dy := fx-x0, fy-y0
	// Non-finite cells are left out and the weights of the others renormalised, so that one NaN
	// does not blank its neighbours' cells.
	i, j := int(y0), int(x0)
	var sum, weight float64
	for _, n := range [4]struct {
		i, j int
		w    float64
	}{
		{i, j, (1 - dy) * (1 - dx)}, {i, j + 1, (1 - dy) * dx}, {i + 1, j, dy * (1 - dx)}, {i + 1, j + 1, dy * dx},
	} {
		f := float64(m.V[min(max(n.i, 0), m.H-1)*m.W+min(max(n.j, 0), m.W-1)])
		if n.w > 0 && !math.IsNaN(f) && !math.IsInf(f, 0) {
			sum, weight = sum+n.w*f, weight+n.w
		}
	}
	if weight == 0 {
		return 0, false
	}
	return sum / weight, true
}

// Range is the smallest and largest finite value of the map; ok is false when it has none.
func (m Map) Range() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range m.V {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	return lo, hi, lo <= hi
}
