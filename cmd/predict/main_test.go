package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

func writeImage(t *testing.T, path string, w, h int, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x*7 + seed*40), uint8(y*5 + seed*13), uint8((x+y)*3 + seed), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch filepath.Ext(path) {
	case ".png":
		err = png.Encode(&buf, img)
	case ".gif":
		err = gif.Encode(&buf, img, nil)
	default:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPredictJSONTableAndCAM(t *testing.T) {
	tmp := t.TempDir()
	modelDir := filepath.Join(tmp, "model")
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses = "sa", 18, 0.125, 4
	spec := exported.Spec{Net: cfg, Preprocess: exported.Preprocess{ResizeSize: 36, ImageSize: 32}, Labels: []string{"w", "x", "y", "z"}}
	if err := exported.Export(context.Background(), modelDir, spec, nil); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(tmp, "imgs")
	os.MkdirAll(filepath.Join(imgs, "sub"), 0o755)
	writeImage(t, filepath.Join(imgs, "b.png"), 50, 40, 1)
	writeImage(t, filepath.Join(imgs, "sub", "a.jpg"), 40, 64, 2)
	writeImage(t, filepath.Join(imgs, "c.gif"), 33, 33, 3)
	os.WriteFile(filepath.Join(imgs, "notes.txt"), []byte("skipped: not an image extension"), 0o644)
	bad := filepath.Join(tmp, "bad.jpg")
	os.WriteFile(bad, []byte("this is not a JPEG"), 0o644)
	single := filepath.Join(tmp, "single.png")
	writeImage(t, single, 32, 32, 4)

	camDir := filepath.Join(tmp, "cams")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-model", modelDir, "-json", "-topk", "3", "-batch", "2", "-cam", camDir, single, imgs, bad}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d with a bad file, want %d; stderr:\n%s", code, exitFailed, stderr.String())
	}
	if !strings.Contains(stderr.String(), bad) {
		t.Errorf("stderr does not name the bad file:\n%s", stderr.String())
	}
	var results []result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, stdout.String())
	}
	wantFiles := []string{single, filepath.Join(imgs, "b.png"), filepath.Join(imgs, "c.gif"), filepath.Join(imgs, "sub", "a.jpg"), bad}
	if len(results) != len(wantFiles) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(wantFiles), results)
	}
	m, err := exported.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i, r := range results {
		if r.File != wantFiles[i] {
			t.Errorf("result %d is %s, want %s (input order)", i, r.File, wantFiles[i])
		}
		if r.File == bad {
			if r.Error == "" || len(r.Top) != 0 {
				t.Errorf("bad file result %+v, want an error", r)
			}
			continue
		}
		if len(r.Top) != 3 {
			t.Fatalf("%s: %d classes, want 3", r.File, len(r.Top))
		}
		data, _ := os.ReadFile(r.File)
		p, err := m.PredictEncoded(context.Background(), [][]byte{data})
		if err != nil {
			t.Fatal(err)
		}
		top := m.TopK(p.Probabilities[0], 3)
		for k := range top {
			if top[k].ID != r.Top[k].ID || top[k].Label != r.Top[k].Label || math.Abs(float64(top[k].Probability-r.Top[k].Probability)) > 1e-6 {
				t.Errorf("%s rank %d: %+v, want %+v", r.File, k+1, r.Top[k], top[k])
			}
		}
		base := strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File))
		f, err := os.Open(filepath.Join(camDir, base+".cam.png"))
		if err != nil {
			t.Errorf("no CAM for %s: %v", r.File, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 32 || cfg.Height != 32 {
			t.Errorf("CAM of %s: %v, %dx%d, want a 32x32 PNG", r.File, err, cfg.Width, cfg.Height)
		}
	}

	// The table: one row per class, the file named on its first row.
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"-model", modelDir, "-topk", "2", single}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "FILE") || !strings.HasPrefix(lines[1], single) || !strings.Contains(lines[2], " 2 ") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

func TestPredictUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "-model DIR is required"},
		{[]string{"-model", "m"}, exitUsage, "no image files"},
		{[]string{"-model", "m", "-topk", "0", "x.jpg"}, exitUsage, "at least 1"},
		{[]string{"-model", t.TempDir(), t.TempDir()}, exitFailed, "no images"},
		{[]string{"-model", filepath.Join(t.TempDir(), "missing"), "main.go"}, exitFailed, "load model"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("predict %q: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}
