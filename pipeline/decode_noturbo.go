//go:build !turbojpeg || !cgo

package pipeline

// turboJPEG says whether JPEGs are decoded with libjpeg-turbo (build tag turbojpeg, with cgo).
const turboJPEG = false

// JPEGDecoder names the JPEG decoder this build uses: "image/jpeg" or "libjpeg-turbo".
func JPEGDecoder() string { return "image/jpeg" }

func decodeJPEGTurbo([]byte, int) (*RGB, bool, error) { return nil, false, nil }
