//go:build !cgo || noturbojpeg

package pipeline

// turboJPEG says whether JPEGs are decoded with libjpeg-turbo: not in this build (tag noturbojpeg,
// or no cgo), which decodes with Go's image/jpeg.
const turboJPEG = false

// JPEGDecoder names the JPEG decoder this build uses: "image/jpeg" or "libjpeg-turbo".
func JPEGDecoder() string { return "image/jpeg" }

func decodeJPEGTurbo([]byte, int) (*RGB, bool, error) { return nil, false, nil }
