package pipeline

import (
	"math/rand/v2"
	"testing"
)

// TestHueTablesMatchReference: the table-driven adjustHue equals PIL's per-pixel arithmetic
// (rgbToHSV, shift, hsvToRGB) for every 24-bit colour with one shift (a random million colours
// with -short), and for random colours with other shifts.
func TestHueTablesMatchReference(t *testing.T) {
	random := func(n int) *RGB {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		m := NewRGB(n, 1)
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.Uint32())
		}
		return m
	}
	all := random(1 << 20)
	if !testing.Short() {
		all = NewRGB(1<<12, 1<<12)
		for c := 0; c < 1<<24; c++ {
			all.Pix[3*c], all.Pix[3*c+1], all.Pix[3*c+2] = uint8(c>>16), uint8(c>>8), uint8(c)
		}
	}
	some := random(1 << 17)
	for _, tt := range []struct {
		factor float64
		m      *RGB
	}{{0.1, all}, {0, some}, {-0.1, some}, {0.5, some}, {-0.37, some}} {
		factor, m := tt.factor, tt.m
		got := &RGB{Pix: append([]uint8(nil), m.Pix...), W: m.W, H: m.H}
		adjustHue(got, factor)
		shift := uint8(int(factor * 255))
		bad := 0
		for i := 0; i < len(m.Pix); i += 3 {
			h, s, v := rgbToHSV(m.Pix[i], m.Pix[i+1], m.Pix[i+2])
			r, g, b := hsvToRGB(h+shift, s, v)
			if got.Pix[i] != r || got.Pix[i+1] != g || got.Pix[i+2] != b {
				if bad++; bad <= 5 {
					t.Errorf("factor %v, rgb %v: got %v, want %v", factor, m.Pix[i:i+3], got.Pix[i:i+3], []uint8{r, g, b})
				}
			}
		}
		if bad > 0 {
			t.Errorf("factor %v: %d colours differ", factor, bad)
		}
	}
}
