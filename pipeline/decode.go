package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	_ "image/png" // registers PNG with image.Decode
	"io/fs"

	_ "golang.org/x/image/bmp"  // registers BMP with image.Decode
	_ "golang.org/x/image/webp" // registers WebP with image.Decode

	"github.com/finegrain/finegrain/pipeline/safefile"
)

// DefaultMaxPixels is PIL's Image.MAX_IMAGE_PIXELS, the default decompression-bomb limit.
const DefaultMaxPixels = 89478485

// DefaultMaxFileBytes is the default limit on the size of an image file: 512 MiB, more than a PNG of
// DefaultMaxPixels 8-bit RGBA pixels that does not compress at all. Larger files are refused before
// they are read.
const DefaultMaxFileBytes = 512 << 20

// ErrTooManyPixels reports an image whose header declares more pixels than the configured limit
// (a decompression bomb, or simply too large); nothing has been decoded when it is returned.
var ErrTooManyPixels = errors.New("image exceeds the pixel limit")

// BadImageError says why one image cannot be used: unreadable, not a regular file, too large,
// empty, corrupt, truncated, in an unsupported format, or over the pixel limit.
type BadImageError struct {
	Path string // the file, or "" for in-memory data
	Err  error
}

func (e *BadImageError) Error() string {
	if e.Path == "" {
		return "bad image: " + e.Err.Error()
	}
	return fmt.Sprintf("bad image %s: %v", e.Path, e.Err)
}

func (e *BadImageError) Unwrap() error { return e.Err }

// header is what an image's header says, read before any pixel is decoded.
type header struct {
	format string // as registered with the image package: jpeg, png, gif, bmp, webp
	w, h   int
	gif    gifInfo // for GIFs
}

// readHeader checks the header with image.DecodeConfig: a supported format, a non-empty size and at
// most maxPixels pixels (maxPixels <= 0: no limit), counting every frame of an animated GIF.
func readHeader(data []byte, maxPixels int) (header, error) {
	if len(data) == 0 {
		return header{}, errors.New("empty file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) {
		if name := unsupportedFormat(data); name != "" {
			return header{}, errUnsupported(name)
		}
	}
	if err != nil {
		return header{}, fmt.Errorf("read header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, fmt.Errorf("%s header declares %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	hdr := header{format: format, w: cfg.Width, h: cfg.Height}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	what := fmt.Sprintf("%dx%d %s", cfg.Width, cfg.Height, format)
	switch format {
	case "gif":
		// Decoders that composite every frame on the canvas (PIL's seek, TensorFlow's DecodeGif)
		// need the canvas once a frame: a small file of many frames is a bomb even though this
		// package decodes only the first.
		hdr.gif = scanGIF(data)
		if hdr.gif.frames > 1 {
			pixels *= int64(hdr.gif.frames)
			what = fmt.Sprintf("%d frames of %dx%d gif", hdr.gif.frames, cfg.Width, cfg.Height)
		}
	case "webp":
		if webpAnimated(data) {
			return header{}, errors.New("animated WebP images are not supported")
		}
	}
	if maxPixels > 0 && pixels > int64(maxPixels) {
		return header{}, fmt.Errorf("%s: %d pixels: %w (%d)", what, pixels, ErrTooManyPixels, maxPixels)
	}
	if format == "bmp" {
		if err := checkBMPSize(data, cfg.Width, cfg.Height); err != nil {
			return header{}, err
		}
	}
	return hdr, nil
}

// ImageConfig is what an image's header says.
type ImageConfig struct {
	Format        string // one of Formats
	Width, Height int
	Frames        int // GIF frames (1 for other formats)
}

// DecodeConfig checks an encoded image's header as Decode does before decoding: a supported format, a
// non-empty size, at most maxPixels pixels (<= 0: no limit) counting every frame of an animated GIF,
// and for BMP a file long enough for its pixels. Nothing is decoded. Errors are *BadImageError.
// Services that hand images to another decoder (TensorFlow's, which decodes every frame of a GIF)
// use it to refuse bombs first.
func DecodeConfig(data []byte, maxPixels int) (ImageConfig, error) {
	hdr, err := readHeader(data, maxPixels)
	if err != nil {
		return ImageConfig{}, &BadImageError{Err: err}
	}
	return ImageConfig{Format: hdr.format, Width: hdr.w, Height: hdr.h, Frames: max(hdr.gif.frames, 1)}, nil
}

// decodeRGB decodes data, whose header hdr has been checked, to RGB. For JPEGs in a build with
// libjpeg-turbo (the default build), denom 2, 4 or 8 asks for decoding at that reduced scale
// (libjpeg's DCT scaling); the result then has ceil(w/denom)×ceil(h/denom) pixels. Other decoders
// ignore denom. A panic inside a decoder becomes an error.
func decodeRGB(data []byte, hdr header, denom int) (img *RGB, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s decoder panicked: %v", hdr.format, r)
		}
	}()
	if hdr.format == "jpeg" && turboJPEG {
		if img, ok, err := decodeJPEGTurbo(data, denom); ok {
			return img, err
		}
	}
	var m image.Image
	switch hdr.format {
	case "jpeg":
		m, err = jpeg.Decode(bytes.NewReader(data))
	case "gif":
		m, err = gif.Decode(bytes.NewReader(data)) // the first frame only
	default:
		m, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", hdr.format, err)
	}
	if b := m.Bounds(); b.Dx() != hdr.w || b.Dy() != hdr.h {
		return nil, fmt.Errorf("decoded %dx%d pixels, header said %dx%d", b.Dx(), b.Dy(), hdr.w, hdr.h)
	}
	return formatToRGB(m, data, hdr), nil
}

// formatToRGB is ToRGB with the corrections that need to know where the pixels came from, so that
// the result is PIL's Image.open(f).convert("RGB").
func formatToRGB(m image.Image, data []byte, hdr header) *RGB {
	switch hdr.format {
	case "png":
		// PIL opens a 16-bit grey PNG (with or without tRNS) as mode "I", 32-bit integers, and
		// converting that to RGB clips at 255 rather than scaling: 0x00ff stays 255, 0x0100 and
		// everything above become 255. Go gives *image.Gray16, or *image.NRGBA64 with tRNS.
		if depth, ct, ok := pngIHDR(data); ok && depth == 16 && ct == 0 {
			return gray16ClipToRGB(m)
		}
	case "webp":
		switch y := m.(type) {
		case *image.YCbCr:
			if out, ok := webpToRGB(y); ok {
				return out
			}
		case *image.NYCbCrA: // alpha is dropped, as convert("RGB") does
			if out, ok := webpToRGB(&y.YCbCr); ok {
				return out
			}
		}
	case "gif":
		// Go's GIF decoder turns the first frame's transparent palette entry into transparent
		// black; PIL keeps the entry's colour, and convert("RGB") shows it.
		if p, ok := m.(*image.Paletted); ok && hdr.gif.hasColor && hdr.gif.transparent < len(p.Palette) {
			c := hdr.gif.transparentColor
			pal := append(color.Palette(nil), p.Palette...)
			pal[hdr.gif.transparent] = color.RGBA{c[0], c[1], c[2], 255}
			q := *p
			q.Palette = pal
			m = &q
		}
	}
	return ToRGB(m)
}

// Decode decodes a JPEG, PNG, GIF (its first frame), BMP or WebP image to RGB as PIL's
// Image.open(f).convert("RGB") does (see ToRGB). The header is checked first with
// image.DecodeConfig, and an image declaring more than maxPixels pixels (<= 0: no limit; every frame
// of an animated GIF counts) is refused with ErrTooManyPixels before its pixels are decoded.
// Errors are *BadImageError.
func Decode(data []byte, maxPixels int) (*RGB, error) {
	hdr, err := readHeader(data, maxPixels)
	if err != nil {
		return nil, &BadImageError{Err: err}
	}
	img, err := decodeRGB(data, hdr, 1)
	if err != nil {
		return nil, &BadImageError{Err: err}
	}
	return img, nil
}

// DecodeFile is Decode for a file, read with ReadImageFile (a regular file of at most
// DefaultMaxFileBytes); errors name the path.
func DecodeFile(path string, maxPixels int) (*RGB, error) {
	data, err := ReadImageFile(context.Background(), path, DefaultMaxFileBytes)
	if err != nil {
		return nil, err
	}
	img, err := Decode(data, maxPixels)
	if err != nil {
		err.(*BadImageError).Path = path
	}
	return img, err
}

// ReadImageFile reads an image file with safefile.Read: a regular file (after symbolic links) of at
// most maxBytes bytes (<= 0: DefaultMaxFileBytes), read in chunks that stop once ctx is done. A named
// pipe, a device or a directory is refused at once instead of blocking or filling memory. Errors
// other than ctx's are *BadImageError naming the path.
func ReadImageFile(ctx context.Context, path string, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	data, err := safefile.Read(ctx, path, maxBytes)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, &BadImageError{Path: path, Err: unwrapPath(err, path)}
	}
	return data, nil
}

// unwrapPath drops the *fs.PathError layer of an error about path, whose path BadImageError
// already names ("bad image x.jpg: not a regular file", not "bad image x.jpg: read x.jpg: ...").
func unwrapPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Err
	}
	return err
}
