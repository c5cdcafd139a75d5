//go:build !turbojpeg || !cgo

package pipeline

// turboJPEG says whether JPEGs are decoded with libjpeg-turbo (build tag turbojpeg, with cgo).
const turboJPEG = false

func decodeJPEGTurbo([]byte, int) (*RGB, bool, error) { return nil, false, nil }
