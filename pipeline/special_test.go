package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/finegrain/finegrain/pipeline/safefile"
)

// animatedGIF encodes frames frames of w×h pixels; the LZW data of a flat frame is a few bytes, so
// the file stays small whatever the count.
func animatedGIF(t testing.TB, w, h, frames int) []byte {
	t.Helper()
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 100, 50, 255}}
	g := &gif.GIF{}
	for k := range frames {
		m := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		m.Pix[k%len(m.Pix)] = 1
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bmpHeaderOnly is the 54-byte header of an uncompressed 24-bit w×h BMP and no pixels.
func bmpHeaderOnly(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, image.NewRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()[:54]
	le := func(off int, v uint32) {
		data[off], data[off+1], data[off+2], data[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le(18, uint32(w))
	le(22, uint32(h))
	return data
}

// TestDecodeHeaderLimits: the pixel limit counts every frame of an animated GIF, a BMP header cannot
// make the decoder allocate more than the file holds, and formats the pipeline does not read are
// named in the error.
func TestDecodeHeaderLimits(t *testing.T) {
	// A WebP whose VP8X chunk sets the animation flag (a 10×10 canvas), then its ANIM chunk.
	webpAnim := []byte("RIFF\x26\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x09\x00\x00" +
		"ANIM\x06\x00\x00\x00\xff\xff\xff\xff\x00\x00")
	tests := []struct {
		name      string
		data      []byte
		maxPixels int
		tooMany   bool
		msg       string // in the error; "" when the image must decode
		frames    int    // of a GIF that decodes
	}{
		{"one GIF frame under the limit", animatedGIF(t, 100, 100, 1), 50_000, false, "", 1},
		{"4 frames under the limit", animatedGIF(t, 100, 100, 4), 50_000, false, "", 4},
		{"600 frames over the limit", animatedGIF(t, 100, 100, 600), 50_000, true, "600 frames of 100x100 gif: 6000000 pixels", 0},
		{"100 frames of 1000x1000", animatedGIF(t, 1000, 1000, 100), DefaultMaxPixels, true, "100 frames", 0},
		{"BMP declaring 9000x9000 in 54 bytes", bmpHeaderOnly(t, 9000, 9000), DefaultMaxPixels, false, "truncated", 0},
		{"animated WebP", webpAnim, 0, false, "animated WebP images are not supported", 0},
		{"TIFF", []byte("II*\x00\x08\x00\x00\x00rest of a tiff"), 0, false, "TIFF images are not supported", 0},
		{"HEIC", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), 0, false, "HEIF/HEIC images are not supported", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			img, err := Decode(tt.data, tt.maxPixels)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("error %v, want a decoded image", err)
				}
				if img.W != 100 || img.H != 100 {
					t.Errorf("%dx%d image, want the first frame, 100x100", img.W, img.H)
				}
				if c, err := DecodeConfig(tt.data, tt.maxPixels); err != nil || c != (ImageConfig{"gif", 100, 100, tt.frames}) {
					t.Errorf("DecodeConfig: %+v, %v; want gif, 100x100, %d frames", c, err, tt.frames)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want one saying %q", err, tt.msg)
			}
			if got := errors.Is(err, ErrTooManyPixels); got != tt.tooMany {
				t.Errorf("errors.Is(ErrTooManyPixels) = %v, want %v", got, tt.tooMany)
			}
			if _, cerr := DecodeConfig(tt.data, tt.maxPixels); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("DecodeConfig: %v, want Decode's error %v", cerr, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v: the header check decoded pixels", d)
			}
		})
	}
}

// specialFiles makes, in dir, "image" files that are not regular files or are too large, and
// returns their paths by name.
func specialFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := syscall.Mkfifo(p("pipe.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p("zero.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("folder.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p("huge.jpg")) // sparse: no disk used
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(DefaultMaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return map[string]string{"named pipe": p("pipe.jpg"), "character device": p("zero.jpg"), "directory": p("folder.jpg"), "too large": p("huge.jpg")}
}

// TestLoaderSpecialFiles: a dataset whose "images" are a named pipe, /dev/zero, a directory and a
// file past the size limit gives one *BadImageError per file, naming it and the kind of file, and
// the pass finishes; before, the pipe blocked the pass forever and /dev/zero filled memory.
func TestLoaderSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	recs := writeDataset(t, dir, 4, nil)
	special := specialFiles(t, dir)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range special {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range names {
		recs = append(recs, Record{Path: special[k]})
	}
	for _, workers := range []int{0, 3} {
		cfg := smallConfig()
		cfg.OnBadImage, cfg.Workers = "fail", workers
		done := make(chan map[string]error, 1)
		go func() {
			l, err := NewEval(context.Background(), recs, cfg)
			if err != nil {
				t.Error(err)
				done <- nil
				return
			}
			defer l.Close()
			bad := map[string]error{}
			for {
				b, err := l.Next(context.Background())
				if err == io.EOF {
					break
				}
				var be *BadImageError
				if errors.As(err, &be) {
					bad[be.Path] = err
					continue
				}
				if err != nil {
					t.Error(err)
					break
				}
				b.Release()
			}
			done <- bad
		}()
		var bad map[string]error
		select {
		case bad = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("workers %d: the pass is still running after 30 s: a special file blocked it", workers)
		}
		for kind, path := range special {
			err := bad[path]
			want := kind
			if kind == "too large" {
				want = "file too large"
			}
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("workers %d: %s: error %v, want a bad image naming %s and saying %q", workers, kind, err, path, want)
			}
		}
		if len(bad) != len(special) {
			t.Errorf("workers %d: %d bad images, want %d: %v", workers, len(bad), len(special), bad)
		}
	}
	if _, err := DecodeFile(special["named pipe"], 0); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("DecodeFile of a named pipe: %v, want ErrNotRegular", err)
	}
}

// TestBadImageWarnedOnce: a bad file skipped in every epoch is named in one warning, not one an epoch.
func TestBadImageWarnedOnce(t *testing.T) {
	dir := t.TempDir()
	recs := writeDataset(t, dir, 8, map[string][]byte{"broken.jpg": []byte("not an image")})
	var log bytes.Buffer
	cfg := smallConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	for epoch := range 3 {
		l, err := NewTrain(context.Background(), recs, cfg, epoch)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, l)
		if l.Skipped() != 1 {
			t.Errorf("epoch %d: skipped %d, want 1", epoch, l.Skipped())
		}
	}
	if n := strings.Count(log.String(), "broken.jpg"); n != 1 {
		t.Errorf("%d warnings name broken.jpg over 3 epochs, want 1:\n%s", n, log.String())
	}
}
