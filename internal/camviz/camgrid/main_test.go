package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCamgrid(t *testing.T) {
	dir := t.TempDir()
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	for _, n := range []string{"1_a.cam.png", "2_b.cam.png"} {
		writePNG(t, filepath.Join(dir, "none", n), 40, 30, red)
		writePNG(t, filepath.Join(dir, "csca", n), 40, 30, blue)
	}
	writePNG(t, filepath.Join(dir, "partial", "1_a.cam.png"), 40, 30, red)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	none, csca := filepath.Join(dir, "none"), filepath.Join(dir, "csca")
	out := filepath.Join(dir, "fig.png")
	for _, c := range []struct {
		args []string
		code int
		want string
		cols int // of the figure written
	}{
		{[]string{"-out", out, "-columns", "none,csca", "-title", `two\nlines`, none, csca}, 0, "", 2},
		{[]string{"-out", out, none}, 0, "", 1},
		{[]string{"-out", out, "-columns", "one", none, csca}, 1, "1 column titles for 2 folders", 0},
		{[]string{"-out", out, none, filepath.Join(dir, "partial")}, 1, "2_b.cam.png", 0},
		{[]string{"-out", out, filepath.Join(dir, "empty")}, 1, "no *.cam.png in", 0},
		{[]string{none}, 2, "-out FILE", 0},
		{[]string{"-out", out}, 2, "at least one folder", 0},
		{[]string{"-h"}, 0, "Usage: camgrid", 0},
	} {
		os.Remove(out)
		var stderr bytes.Buffer
		code := run(c.args, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("camgrid %q: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
			continue
		}
		if c.cols == 0 {
			continue
		}
		f, err := os.Open(out)
		if err != nil {
			t.Errorf("camgrid %q wrote nothing: %v", c.args, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < c.cols*40 || cfg.Width >= (c.cols+1)*40 || cfg.Height < 2*30 {
			t.Errorf("camgrid %q: %v, %d×%d, want room for %d columns of 40 and 2 rows of 30", c.args, err, cfg.Width, cfg.Height, c.cols)
		}
	}
}
