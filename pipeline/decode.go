package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers GIF with image.Decode
	"image/jpeg"
	_ "image/png" // registers PNG with image.Decode
	"os"
)

// DefaultMaxPixels is PIL's Image.MAX_IMAGE_PIXELS, the default decompression-bomb limit.
const DefaultMaxPixels = 89478485

// ErrTooManyPixels reports an image whose header declares more pixels than the configured limit
// (a decompression bomb, or simply too large); nothing has been decoded when it is returned.
var ErrTooManyPixels = errors.New("image exceeds the pixel limit")

// BadImageError says why one image cannot be used: unreadable, empty, corrupt, truncated, in an
// unsupported format, or over the pixel limit.
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
	format string // as registered with the image package: jpeg, png, gif
	w, h   int
}

// readHeader checks the header with image.DecodeConfig: a known format, a non-empty size and at
// most maxPixels pixels (maxPixels <= 0: no limit).
func readHeader(data []byte, maxPixels int) (header, error) {
	if len(data) == 0 {
		return header{}, errors.New("empty file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return header{}, fmt.Errorf("read header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, fmt.Errorf("%s header declares %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return header{}, fmt.Errorf("%dx%d %s: %w (%d)", cfg.Width, cfg.Height, format, ErrTooManyPixels, maxPixels)
	}
	return header{format: format, w: cfg.Width, h: cfg.Height}, nil
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
	if hdr.format == "jpeg" {
		m, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		m, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", hdr.format, err)
	}
	if b := m.Bounds(); b.Dx() != hdr.w || b.Dy() != hdr.h {
		return nil, fmt.Errorf("decoded %dx%d pixels, header said %dx%d", b.Dx(), b.Dy(), hdr.w, hdr.h)
	}
	return ToRGB(m), nil
}

// Decode decodes a JPEG, PNG or GIF image to RGB (see ToRGB for the colour conversions). The
// header is checked first with image.DecodeConfig, and an image declaring more than maxPixels
// pixels (<= 0: no limit) is refused with ErrTooManyPixels before its pixels are decoded.
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

// DecodeFile is Decode for a file; errors name the path.
func DecodeFile(path string, maxPixels int) (*RGB, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &BadImageError{Path: path, Err: err}
	}
	img, err := Decode(data, maxPixels)
	if err != nil {
		err.(*BadImageError).Path = path
	}
	return img, err
}
