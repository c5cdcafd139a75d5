//go:build cgo && !noturbojpeg

package pipeline

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// turboJPEG says whether JPEGs are decoded with libjpeg-turbo (the default with cgo; build tag
// noturbojpeg selects Go's image/jpeg). This
// build links Debian's libturbojpeg (package libturbojpeg0-dev), the library PIL and TensorFlow
// decode with, so decoded pixels equal PIL's.
const turboJPEG = true

// JPEGDecoder names the JPEG decoder this build uses: "image/jpeg" or "libjpeg-turbo".
func JPEGDecoder() string { return "libjpeg-turbo" }

// decodeJPEGTurbo decodes with TurboJPEG's tjDecompress2 at scale 1/denom (denom 1, 2, 4 or 8),
// with libjpeg's defaults (ISLOW DCT, fancy upsampling), which are PIL's. ok is false when
// TurboJPEG cannot produce RGB for this file (CMYK and YCCK JPEGs); the caller then falls back to
// image/jpeg. Like PIL, it accepts files that libjpeg only warns about, except truncated ones.
func decodeJPEGTurbo(data []byte, denom int) (img *RGB, ok bool, err error) {
	h := C.tjInitDecompress()
	if h == nil {
		return nil, true, errors.New("tjInitDecompress failed")
	}
	defer C.tjDestroy(h)
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	var w, hh, subsamp, colorspace C.int
	if C.tjDecompressHeader3(h, src, C.ulong(len(data)), &w, &hh, &subsamp, &colorspace) != 0 {
		return nil, true, fmt.Errorf("decode jpeg header: %s", C.GoString(C.tjGetErrorStr2(h)))
	}
	if colorspace == C.TJCS_CMYK || colorspace == C.TJCS_YCCK {
		return nil, false, nil
	}
	if denom != 1 && denom != 2 && denom != 4 && denom != 8 {
		denom = 1
	}
	sw := (int(w) + denom - 1) / denom // TJSCALED with scaling factor 1/denom
	sh := (int(hh) + denom - 1) / denom
	out := NewRGB(sw, sh)
	rc := C.tjDecompress2(h, src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&out.Pix[0])),
		C.int(sw), C.int(sw*3), C.int(sh), C.TJPF_RGB, 0)
	if rc != 0 {
		msg := C.GoString(C.tjGetErrorStr2(h))
		if C.tjGetErrorCode(h) == C.TJERR_FATAL || strings.Contains(msg, "Premature end") {
			return nil, true, fmt.Errorf("decode jpeg: %s", msg)
		}
	}
	return out, true, nil
}
