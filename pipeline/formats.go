package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// The formats the pipeline decodes, by the name image.DecodeConfig gives them, and their file name
// extensions. Dataset indexes (the folder format) and cmd/predict collect files by these extensions,
// and the documentation lists the same formats: one list, so that what is collected, what is
// documented and what decodes cannot drift apart.
var formatExts = []struct {
	format string
	exts   []string
}{
	{"jpeg", []string{".jpg", ".jpeg"}},
	{"png", []string{".png"}},
	{"gif", []string{".gif"}},
	{"bmp", []string{".bmp"}},
	{"webp", []string{".webp"}},
}

// Formats returns the image formats Decode reads: jpeg, png, gif, bmp, webp.
func Formats() []string {
	out := make([]string, len(formatExts))
	for i, f := range formatExts {
		out[i] = f.format
	}
	return out
}

// Extensions returns the file name extensions of the formats Decode reads, in lower case with the
// dot: .jpg, .jpeg, .png, .gif, .bmp, .webp.
func Extensions() []string {
	var out []string
	for _, f := range formatExts {
		out = append(out, f.exts...)
	}
	return out
}

// HasImageExt reports whether name ends in one of Extensions, in any letter case.
func HasImageExt(name string) bool {
	return slices.Contains(Extensions(), strings.ToLower(filepath.Ext(name)))
}

// unsupported are image formats people keep in datasets that the pipeline does not decode, by
// signature, so that the error names the format instead of saying "unknown format".
var unsupported = []struct {
	name  string
	match func([]byte) bool
}{
	{"TIFF", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	}},
	{"HEIF/HEIC", func(b []byte) bool { return isFtyp(b, "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1") }},
	{"AVIF", func(b []byte) bool { return isFtyp(b, "avif", "avis") }},
	{"JPEG XL", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte{0xff, 0x0a}) || bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cJXL \r\n\x87\n"))
	}},
	{"JPEG 2000", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")) || bytes.HasPrefix(b, []byte{0xff, 0x4f, 0xff, 0x51})
	}},
	{"ICO", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0, 0, 1, 0}) }},
	{"Photoshop", func(b []byte) bool { return bytes.HasPrefix(b, []byte("8BPS")) }},
	{"PNM", func(b []byte) bool {
		return len(b) > 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && (b[2] == '\n' || b[2] == ' ' || b[2] == '\r')
	}},
}

func isFtyp(b []byte, brands ...string) bool {
	return len(b) >= 12 && string(b[4:8]) == "ftyp" && slices.Contains(brands, string(b[8:12]))
}

// unsupportedFormat names the format of data when it is one of the unsupported ones, or "".
func unsupportedFormat(data []byte) string {
	for _, u := range unsupported {
		if u.match(data) {
			return u.name
		}
	}
	return ""
}

// errUnsupported says which formats are supported, for images in another one.
func errUnsupported(name string) error {
	return fmt.Errorf("%s images are not supported (supported: JPEG, PNG, GIF, BMP, WebP; convert it, for example to PNG)", name)
}

// gifInfo is what a scan of a GIF's blocks finds without decoding pixels.
type gifInfo struct {
	frames int
	// The colour the first frame's transparent index has in its colour table: Go's GIF decoder
	// replaces it with transparent black, PIL's convert("RGB") keeps it.
	transparent      int // the first frame's transparent index, or -1
	transparentColor [3]uint8
	hasColor         bool // the index is inside the frame's colour table
}

// scanGIF walks the blocks of a GIF (header, colour tables, extensions, image descriptors and the
// sub-blocks of their data) and counts the frames. It stops quietly at the first inconsistency: the
// decoder then reports it if it matters.
func scanGIF(b []byte) gifInfo {
	info := gifInfo{transparent: -1}
	if len(b) < 13 {
		return info
	}
	var global []byte
	i := 13
	if flags := b[10]; flags&0x80 != 0 {
		n := 3 << ((flags & 7) + 1)
		if i+n > len(b) {
			return info
		}
		global, i = b[i:i+n], i+n
	}
	// skipSubBlocks returns the offset after the sub-blocks starting at j, or -1.
	skipSubBlocks := func(j int) int {
		for j < len(b) {
			n := int(b[j])
			j++
			if n == 0 {
				return j
			}
			j += n
		}
		return -1
	}
	pendingTransparent := -1
	for i < len(b) {
		switch b[i] {
		case 0x21: // extension
			if i+2 > len(b) {
				return info
			}
			if b[i+1] == 0xf9 && i+8 <= len(b) && b[i+2] == 4 { // graphic control extension
				pendingTransparent = -1
				if b[i+3]&1 != 0 {
					pendingTransparent = int(b[i+6])
				}
			}
			if i = skipSubBlocks(i + 2); i < 0 {
				return info
			}
		case 0x2c: // image descriptor
			if i+10 > len(b) {
				return info
			}
			flags := b[i+9]
			table := global
			i += 10
			if flags&0x80 != 0 {
				n := 3 << ((flags & 7) + 1)
				if i+n > len(b) {
					return info
				}
				table, i = b[i:i+n], i+n
			}
			if info.frames == 0 && pendingTransparent >= 0 {
				info.transparent = pendingTransparent
				if k := 3 * pendingTransparent; k+3 <= len(table) {
					info.hasColor = true
					copy(info.transparentColor[:], table[k:k+3])
				}
			}
			pendingTransparent = -1
			info.frames++
			if i = skipSubBlocks(i + 1); i < 0 { // +1: the LZW minimum code size
				return info
			}
		default: // 0x3b, the trailer, or garbage
			return info
		}
	}
	return info
}

// webpAnimated reports whether a WebP file declares an animation (the VP8X chunk's animation flag),
// which golang.org/x/image/webp cannot decode.
func webpAnimated(b []byte) bool {
	return len(b) >= 21 && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// checkBMPSize refuses a BMP whose pixel array is shorter than its header's size needs: the BMPs the
// decoder reads are uncompressed, so the header alone must not make it allocate more than the file
// can fill.
func checkBMPSize(b []byte, w, h int) error {
	if len(b) < 30 {
		return errors.New("bmp: truncated header")
	}
	offset := int64(binary.LittleEndian.Uint32(b[10:14]))
	bpp := int64(binary.LittleEndian.Uint16(b[28:30]))
	need := offset + (int64(w)*bpp+31)/32*4*int64(h)
	if int64(len(b)) < need {
		return fmt.Errorf("bmp: %dx%d pixels at %d bits need %d bytes, the file has %d (truncated)", w, h, bpp, need, len(b))
	}
	return nil
}

// pngIHDR returns a PNG's bit depth and colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha,
// 6 RGBA), or ok false.
func pngIHDR(b []byte) (depth, colorType uint8, ok bool) {
	if len(b) < 33 || string(b[12:16]) != "IHDR" {
		return 0, 0, false
	}
	return b[24], b[25], true
}
