//go:build !unix

package bench

// cpuSeconds is unknown off unix: 0, and the CPU-time columns stay empty.
func cpuSeconds() float64 { return 0 }
