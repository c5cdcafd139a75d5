package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// formatsScript writes images in the formats a dataset may hold, each with PIL (or, for the 16-bit
// colour PNGs PIL cannot write, byte by byte), and next to each the reference PIL's
// Image.open(p).convert("RGB") gives (torchvision's default loader).
const formatsScript = `
import sys, struct, zlib
import numpy as np
from PIL import Image
out = sys.argv[1]
rng = np.random.default_rng(3)
h, w = 45, 67
yy, xx = np.mgrid[0:h, 0:w]
rgb = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 3 % 256], -1).astype(np.uint8)
rgb = np.clip(rgb.astype(int) + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
Image.fromarray(rgb).save(out + "/rgb.png")
Image.fromarray(rgb[..., 0]).save(out + "/gray.png")
a = np.dstack([rgb, (xx * 255 // w).astype(np.uint8)])
Image.fromarray(a, "RGBA").save(out + "/rgba.png")
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=32).save(out + "/palette.png")
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=32).save(out + "/palette_transparent.png", transparency=bytes([0, 128] + [255] * 10))
Image.fromarray(np.dstack([rgb[..., 0], a[..., 3]]), "LA").save(out + "/gray_alpha.png")
Image.fromarray(rgb[..., 0]).save(out + "/gray_trns.png", transparency=int(rgb[0, 0, 0]))
Image.fromarray(rgb).save(out + "/rgb_trns.png", transparency=tuple(int(v) for v in rgb[0, 0]))
Image.fromarray(rgb[..., 0] > 128).save(out + "/gray1.png")
# 16-bit grey spanning 0..65535, so that both the values PIL keeps (<= 255) and those it clips occur.
g16 = ((xx * 7 + yy * 1500) % 65536).astype(np.uint16)
g16[0, :8] = [0, 1, 200, 255, 256, 0x7fff, 0xabcd, 0xffff]
Image.fromarray(g16).save(out + "/gray16.png")
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(name, depth, ctype, planes, extra=b""):
    raw = b"".join(b"\x00" + planes[y].astype(">u2").tobytes() for y in range(planes.shape[0]))
    ihdr = struct.pack(">IIBBBBB", planes.shape[1], planes.shape[0], depth, ctype, 0, 0, 0)
    with open(out + "/" + name, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
wide = rgb.astype(np.uint16) * 257 + rng.integers(0, 256, rgb.shape).astype(np.uint16)
png("rgb16.png", 16, 2, wide)
png("rgba16.png", 16, 6, np.dstack([wide, g16]))
png("gray_alpha16.png", 16, 4, np.dstack([wide[..., 1], g16]))
png("gray16_trns.png", 16, 0, g16, chunk(b"tRNS", struct.pack(">H", 300)))
Image.fromarray(rgb).save(out + "/rgb444.jpg", quality=92, subsampling=0)
Image.fromarray(rgb).save(out + "/rgb420.jpg", quality=92, subsampling=2)
Image.fromarray(rgb).save(out + "/rgb422.jpg", quality=92, subsampling=1)
Image.fromarray(rgb[..., 1]).save(out + "/gray.jpg", quality=92)
Image.fromarray(rgb).convert("CMYK").save(out + "/cmyk.jpg", quality=95)
Image.fromarray(rgb).save(out + "/rgb.gif")
p = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
p.save(out + "/transparent.gif", transparency=3)
frames = [Image.fromarray(np.roll(rgb, 9 * k, axis=1)).convert("P", palette=Image.ADAPTIVE, colors=64) for k in range(4)]
frames[0].save(out + "/animated.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
Image.fromarray(rgb).save(out + "/rgb.bmp")
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16).save(out + "/palette.bmp")
Image.fromarray(rgb[..., 2]).save(out + "/gray.bmp")
Image.fromarray(rgb).save(out + "/lossless.webp", lossless=True)
Image.fromarray(rgb).save(out + "/lossy.webp", quality=80)
Image.fromarray(a, "RGBA").save(out + "/lossless_alpha.webp", lossless=True, exact=True)
Image.fromarray(a, "RGBA").save(out + "/lossy_alpha.webp", quality=80)
Image.fromarray(rgb[:44, :66]).save(out + "/lossy_even.webp", quality=60)
Image.fromarray(rgb[:1, :1]).save(out + "/lossy_1x1.webp", quality=60)
import os
for name in sorted(os.listdir(out)):
    if not name.startswith("ref_"):
        # A fresh image: convert() may carry a "transparency" entry that PNG cannot store for RGB.
        Image.fromarray(np.asarray(Image.open(out + "/" + name).convert("RGB"))).save(out + "/ref_" + name + ".png")
`

// TestDecodeFormatsMatchPIL decodes images in every supported format and PNG colour type, written
// by PIL, and compares with PIL's convert("RGB"): gray, gray+alpha, RGBA, palette (with and without
// transparency), 1-bit, 16-bit grey (which PIL clips at 255), 16-bit RGB, RGBA and grey+alpha,
// tRNS colour keys, CMYK and RGB JPEGs, GIFs (a transparent index, an animation's first frame), BMPs
// (24-bit, paletted, grey) and WebPs (lossless and lossy, with and without alpha, odd and even
// sizes). Everything but JPEG must match exactly: lossy WebP too, since the VP8 planes are
// normative and webp.go converts them with libwebp's arithmetic. JPEGs match exactly when decoded
// with libjpeg-turbo (the default build: the same library and settings PIL uses); with Go's
// image/jpeg (plus libjpeg's chroma upsampling and colour conversion, ycbcr.go) only the IDCT's
// rounding differs, so there the tolerance is a mean absolute difference of at most 0.25 and a
// maximum of 8 (measured: 0.05 and 3).
func TestDecodeFormatsMatchPIL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python with torchvision (several seconds)")
	}
	py := pyref.Torch(t)
	dir := t.TempDir()
	pyref.Run(t, py, formatsScript, dir)
	names := []string{"rgb.png", "gray.png", "rgba.png", "palette.png", "palette_transparent.png", "gray_alpha.png",
		"gray_trns.png", "rgb_trns.png", "gray1.png", "gray16.png", "gray16_trns.png", "rgb16.png", "rgba16.png",
		"gray_alpha16.png", "rgb.gif", "transparent.gif", "animated.gif", "rgb.bmp", "palette.bmp", "gray.bmp",
		"lossless.webp", "lossy.webp", "lossless_alpha.webp", "lossy_alpha.webp", "lossy_even.webp", "lossy_1x1.webp",
		"rgb444.jpg", "rgb420.jpg", "rgb422.jpg", "gray.jpg", "cmyk.jpg"}
	// Every format the pipeline claims has a file here: a format added to formatExts without a
	// check against PIL fails this test.
	for _, f := range formatExts {
		if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(f.exts, filepath.Ext(n)) }) {
			t.Errorf("format %s (%v) has no file compared with PIL", f.format, f.exts)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeFile(filepath.Join(dir, name), DefaultMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			want := readPNG(t, filepath.Join(dir, "ref_"+name+".png"))
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, PIL %dx%d", got.W, got.H, want.W, want.H)
			}
			maxAbs, _ := diffStats(got, want)
			mean := meanAbsDiff(got, want)
			lossy := filepath.Ext(name) == ".jpg" && (!turboJPEG || name == "cmyk.jpg")
			switch {
			case !lossy && maxAbs != 0:
				t.Errorf("max abs diff %d (mean %.3f), want 0", maxAbs, mean)
			case lossy && (mean > 0.25 || maxAbs > 8):
				t.Errorf("max abs diff %d, mean %.3f; want max <= 8, mean <= 0.25", maxAbs, mean)
			}
			t.Logf("max abs diff %d, mean %.3f (turbojpeg %v)", maxAbs, mean, turboJPEG)
		})
	}
}

func meanAbsDiff(a, b *RGB) float64 {
	var s float64
	for i := range a.Pix {
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		if d < 0 {
			d = -d
		}
		s += d
	}
	return s / float64(len(a.Pix))
}

// Test16BitAndAlpha covers Go's 16-bit and alpha image types: 16-bit grey is clipped at 255 (PIL's
// mode "I"), the high byte of other 16-bit samples is kept, and alpha is dropped, not composited,
// even where it is 0.
func Test16BitAndAlpha(t *testing.T) {
	g16 := image.NewGray16(image.Rect(0, 0, 3, 1))
	g16.SetGray16(0, 0, color.Gray16{Y: 0xabcd})
	g16.SetGray16(1, 0, color.Gray16{Y: 0x00ff})
	g16.SetGray16(2, 0, color.Gray16{Y: 0x0080})
	n64 := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	n64.SetNRGBA64(0, 0, color.NRGBA64{R: 0x1234, G: 0xff00, B: 0x80ff, A: 0x8000})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{R: 10, G: 20, B: 30, A: 0})
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.NRGBA{10, 20, 30, 0}, color.RGBA{1, 2, 3, 255}})
	pal.Pix[1] = 1
	tests := []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"gray16 clipped as PIL's mode I", g16, []uint8{255, 255, 255, 255, 255, 255, 0x80, 0x80, 0x80}},
		{"nrgba64", n64, []uint8{0x12, 0xff, 0x80}},
		{"nrgba transparent", nrgba, []uint8{10, 20, 30}},
		{"paletted transparent entry", pal, []uint8{10, 20, 30, 1, 2, 3}},
	}
	for _, tt := range tests {
		if got := ToRGB(tt.img).Pix; !bytes.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeaderOnly returns a PNG signature and a valid IHDR chunk declaring w×h pixels, and nothing
// else: enough for image.DecodeConfig, far too little to decode.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

// jpegWithSize rewrites the frame size in a baseline JPEG's SOF0 marker.
func jpegWithSize(t testing.TB, data []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

// TestDecodeBadInput: every kind of bad file gives a *BadImageError, never a panic, and the
// pixel limit refuses images from their header alone.
func TestDecodeBadInput(t *testing.T) {
	good := encodeJPEG(t, testImage(40, 30, 1))
	tests := []struct {
		name      string
		data      []byte
		maxPixels int
		tooMany   bool
	}{
		{"empty", nil, 0, false},
		{"text", []byte("this is not an image"), 0, false},
		{"truncated jpeg", good[:len(good)/2], 0, false},
		{"jpeg header only", good[:200], 0, false},
		{"corrupt jpeg", append(bytes.Clone(good[:300]), bytes.Repeat([]byte{0xff, 0xda}, 200)...), 0, false},
		{"png bomb", pngHeaderOnly(100000, 100000), DefaultMaxPixels, true},
		{"jpeg bomb", jpegWithSize(t, good, 60000, 60000), DefaultMaxPixels, true},
		{"small limit", good, 100, true},
		{"zero width png", pngHeaderOnly(0, 10), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.data, tt.maxPixels)
			if err == nil {
				t.Fatalf("decoded a %dx%d image, want an error", img.W, img.H)
			}
			var bad *BadImageError
			if !errors.As(err, &bad) {
				t.Errorf("error %v (%T), want *BadImageError", err, err)
			}
			if got := errors.Is(err, ErrTooManyPixels); got != tt.tooMany {
				t.Errorf("errors.Is(ErrTooManyPixels) = %v, want %v (%v)", got, tt.tooMany, err)
			}
		})
	}
	if _, err := Decode(good, 40*30); err != nil {
		t.Errorf("image at the limit: %v", err)
	}
	path := filepath.Join(t.TempDir(), "missing.jpg")
	if _, err := DecodeFile(path, 0); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzDecode: no input makes the decoder panic, and what decodes has the header's size.
func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, testImage(16, 12, 1)))
	f.Add(pngHeaderOnly(3, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, 1<<20)
		if err == nil && len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("%dx%d image with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
