package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/camviz"
	"github.com/finegrain/finegrain/pipeline"
)

// TestPredictCAMNames gives predict inputs whose maps would take the same file name: x.jpg in two
// folders, the same file twice, X.png (the same name on a case-insensitive file system) and x-2.jpg
// (whose own name an earlier duplicate took). Each gets its own file, named in the JSON and the table,
// in input order. Before, the JSON did not name the maps.
func TestPredictCAMNames(t *testing.T) {
	modelDir := testModel(t)
	tmp := t.TempDir()
	a, b, c, d := filepath.Join(tmp, "a", "x.jpg"), filepath.Join(tmp, "b", "x.jpg"), filepath.Join(tmp, "c", "X.png"), filepath.Join(tmp, "x-2.jpg")
	for i, f := range []string{a, b, c, d} {
		writeImage(t, f, 40, 36, i)
	}
	camDir := filepath.Join(tmp, "cams")
	inputs := []string{a, b, a, c, d}
	want := []string{"x.cam.png", "x-2.cam.png", "x-3.cam.png", "X-4.cam.png", "x-2-2.cam.png"}

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"-model", modelDir, "-json", "-batch", "2", "-cam", camDir}, inputs...), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	var results []result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(inputs) {
		t.Fatalf("%d results for %d inputs", len(results), len(inputs))
	}
	for i, r := range results {
		if r.File != inputs[i] || r.CAM != filepath.Join(camDir, want[i]) {
			t.Errorf("result %d: file %s, cam %s; want %s, %s", i, r.File, r.CAM, inputs[i], filepath.Join(camDir, want[i]))
		}
	}
	entries, err := os.ReadDir(camDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, sorted) {
		t.Errorf("%s holds %q, want %q", camDir, got, sorted)
	}

	// The table names the maps too, on each image's first row.
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"-model", modelDir, "-topk", "2", "-cam", camDir, a, b}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 5 || !strings.HasSuffix(lines[0], "CAM") || !strings.HasSuffix(lines[1], filepath.Join(camDir, "x.cam.png")) ||
		!strings.HasSuffix(lines[3], filepath.Join(camDir, "x-2.cam.png")) || strings.Contains(lines[2], camDir) {
		t.Errorf("table:\n%s", stdout.String())
	}
}

// TestWriteCAMHotCell puts a synthetic map, zero but for one hot cell of the top class (and another
// of a different class, which must not show), through writeCAM with a 256 resize and a 224 crop, and
// finds the hot cell in the written PNG in original-image coordinates. The expected places are worked
// out here by hand from torchvision's rules (shorter side to 256, the longer int(256·long/short),
// offset round((side-224)/2) half to even, 7×7 cells of 32 crop pixels), not from package camviz.
// Red outweighs blue where the normalised map is above 0.5, which must be inside the cell (within one
// pixel) and cover its central half; outside the crop (beyond one pixel) every pixel is the dimmed
// grey, inside it none is grey.
func TestWriteCAMHotCell(t *testing.T) {
	type box [4]float64 // x0, y0, x1, y1 in original pixels
	for _, c := range []struct {
		name       string
		w, h       int
		hotI, hotJ int
		crop, cell box
	}{
		// 360×280 → 329×256 (int(329.14)); left round(52.5) = 52, top 16; ×360/329 and ×280/256.
		{"landscape", 360, 280, 2, 5,
			box{52 * 360.0 / 329, 16 * 280.0 / 256, 276 * 360.0 / 329, 240 * 280.0 / 256},
			box{(52 + 160) * 360.0 / 329, (16 + 64) * 280.0 / 256, (52 + 192) * 360.0 / 329, (16 + 96) * 280.0 / 256}},
		// 280×360 → 256×329; left 16, top 52; cell (6, 0) is the crop's bottom-left corner.
		{"portrait", 280, 360, 6, 0,
			box{16 * 280.0 / 256, 52 * 360.0 / 329, 240 * 280.0 / 256, 276 * 360.0 / 329},
			box{16 * 280.0 / 256, (52 + 192) * 360.0 / 329, (16 + 32) * 280.0 / 256, (52 + 224) * 360.0 / 329}},
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
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			cfg := pipeline.DefaultConfig()
			cfg.ImageSize, cfg.ResizeSize = 224, 256
			p := predictor{camDir: t.TempDir(), camNames: map[string]bool{}, cfg: cfg}
			cam := make([][][]float32, 7)
			for i := range cam {
				cam[i] = make([][]float32, 7)
				for j := range cam[i] {
					cam[i][j] = make([]float32, 3)
				}
			}
			cam[c.hotI][c.hotJ][1] = 1
			cam[3][3][0] = 5 // another class's evidence, elsewhere
			path, err := p.writeCAM("in.png", buf.Bytes(), cam, exported.Class{ID: 1, Label: "one", Probability: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(p.camDir, "in.cam.png"); path != want {
				t.Errorf("wrote %s, want %s", path, want)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if b := decoded.Bounds(); b.Dx() != c.w || b.Dy() <= c.h {
				t.Fatalf("map is %v, want %d wide (the image's resolution) with a legend below %d rows", b, c.w, c.h)
			}
			in := func(r box, x, y, tol float64) bool {
				return x >= r[0]-tol && x <= r[2]+tol && y >= r[1]-tol && y <= r[3]+tol
			}
			cw, ch := (c.cell[2]-c.cell[0])/4, (c.cell[3]-c.cell[1])/4
			core := box{c.cell[0] + cw, c.cell[1] + ch, c.cell[2] - cw, c.cell[3] - ch}
			dim := camviz.Outside(grey, grey, grey)
			var bad []string
			for y := range c.h {
				for x := range c.w {
					r, g, b, _ := decoded.At(x, y).RGBA()
					px := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
					cx, cy := float64(x)+0.5, float64(y)+0.5
					isHot, isGrey := px.R > px.B, px.R == px.G && px.G == px.B
					switch {
					case !in(c.crop, cx, cy, 1) && (!isGrey || px.R != dim):
						bad = append(bad, fmt.Sprintf("(%d, %d) outside the crop is %v", x, y, px))
					case in(c.crop, cx, cy, -1) && isGrey:
						bad = append(bad, fmt.Sprintf("(%d, %d) inside the crop is grey", x, y))
					case isHot && !in(c.cell, cx, cy, 1):
						bad = append(bad, fmt.Sprintf("(%d, %d) is hot %v outside the cell %.1f", x, y, px, c.cell))
					case !isHot && in(core, cx, cy, 0):
						bad = append(bad, fmt.Sprintf("(%d, %d) in the cell's centre %.1f is not hot: %v", x, y, core, px))
					}
				}
			}
			if len(bad) > 0 {
				t.Errorf("%d pixels wrong, first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
			}
		})
	}
}

// TestWriteCAMErrors: a map writeCAM cannot draw is an error naming the input, never a panic.
func TestWriteCAMErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	good := [][][]float32{{{1, 2}}}
	for _, c := range []struct {
		name string
		data []byte
		cam  [][][]float32
		id   int
		want string
	}{
		{"not an image", []byte("nope"), good, 0, "cam for in.png: "},
		{"no map", buf.Bytes(), nil, 0, "a 0×0 map"},
		{"ragged map", buf.Bytes(), [][][]float32{{{1}, {2}}, {{3}}}, 0, "a 2×2 map with 3 values"},
		{"class past the map", buf.Bytes(), good, 2, "class 2 of a map with 2 classes"},
	} {
		cfg := pipeline.DefaultConfig()
		cfg.ImageSize, cfg.ResizeSize = 32, 36
		p := predictor{camDir: t.TempDir(), camNames: map[string]bool{}, cfg: cfg}
		_, err := p.writeCAM("in.png", c.data, c.cam, exported.Class{ID: c.id})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "in.png") {
			t.Errorf("%s: error %v, want one naming in.png and saying %q", c.name, err, c.want)
		}
	}
	// An output folder that cannot be written.
	p := predictor{camDir: filepath.Join(t.TempDir(), "missing"), camNames: map[string]bool{}, cfg: pipeline.DefaultConfig()}
	p.cfg.ImageSize, p.cfg.ResizeSize = 32, 36
	if _, err := p.writeCAM("in.png", buf.Bytes(), good, exported.Class{}); err == nil || !strings.Contains(err.Error(), "cam for in.png") {
		t.Errorf("missing folder: error %v", err)
	}
}
