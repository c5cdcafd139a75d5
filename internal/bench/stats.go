package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Timing is the wall-clock seconds of repeated runs of one measured operation, and the CPU time the
// process spent in them. On a machine shared with other work the wall-clock time grows with the load
// while the CPU time per run stays close to what the work needs, so both are kept.
type Timing struct {
	Seconds    []float64 `json:"seconds"`     // wall-clock seconds of each run
	CPUSeconds float64   `json:"cpu_seconds"` // user + system CPU time of the process over all runs
}

// Time runs fn and records its wall-clock and CPU time; nothing is recorded when fn fails.
func (t *Timing) Time(fn func() error) error {
	c, w := cpuSeconds(), time.Now()
	if err := fn(); err != nil {
		return err
	}
	t.Seconds = append(t.Seconds, time.Since(w).Seconds())
	t.CPUSeconds += cpuSeconds() - c
	return nil
}

// CPUPerRun is the mean CPU seconds of a run; 0 without runs.
func (t Timing) CPUPerRun() float64 {
	if len(t.Seconds) == 0 {
		return 0
	}
	return t.CPUSeconds / float64(len(t.Seconds))
}

// Median is the median run time; 0 without runs.
func (t Timing) Median() float64 {
	n := len(t.Seconds)
	if n == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(t.Seconds))
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Best is the fastest run; 0 without runs.
func (t Timing) Best() float64 {
	if len(t.Seconds) == 0 {
		return 0
	}
	return slices.Min(t.Seconds)
}

// Rate is items per second at the median run time; 0 without runs.
func (t Timing) Rate(items float64) float64 {
	m := t.Median()
	if m <= 0 {
		return 0
	}
	return items / m
}

// FLOP counting convention (stated in BENCHMARKS.md). nets.Stats counts the multiply-adds of every
// convolution and dense layer of one forward pass; a multiply-add is two floating-point operations.
// The backward pass computes, for every convolution and dense layer, the gradient with respect to its
// input and the gradient with respect to its weights, each as many multiply-adds as the forward
// layer, so a training step is three forward passes. Batch norm, activations, pooling, the gates'
// elementwise products and the optimiser update are not counted (they are memory-bound and small).
const (
	FLOPsPerMAC        = 2
	TrainPassesPerStep = 3
)

// TrainStepFLOPs is the counted floating-point work of one training step of batch images for a model
// of forwardMACs multiply-adds per image.
func TrainStepFLOPs(forwardMACs int64, batch int) float64 {
	return float64(forwardMACs) * FLOPsPerMAC * TrainPassesPerStep * float64(batch)
}

// MatMulFLOPs is the work of an n×n by n×n matrix product: n³ multiply-adds.
func MatMulFLOPs(n int) float64 { return FLOPsPerMAC * math.Pow(float64(n), 3) }

// Ratio is a Go/peer ratio from paired rounds: round i of Go and round i of the peer ran back to back
// in lockstep (RunPair), so each pair saw the same load and the spread of the pair ratios shows how
// far the load moved the answer. The interval is the min–max of the pair ratios, not a confidence
// interval; with fewer than three pairs the ratio is not reported.
type Ratio struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Pairs  []float64 `json:"pairs"` // in round order
}

// MinPairs is the fewest paired rounds a reported ratio rests on.
const MinPairs = 3

// PairedRatio is the ratio num[i]/den[i] of paired rounds, over the rounds both sides have; the zero
// Ratio when there are fewer than MinPairs or a value is not positive.
func PairedRatio(num, den []float64) Ratio {
	n := min(len(num), len(den))
	if n < MinPairs {
		return Ratio{}
	}
	r := Ratio{Pairs: make([]float64, n)}
	for i := range n {
		if num[i] <= 0 || den[i] <= 0 {
			return Ratio{}
		}
		r.Pairs[i] = num[i] / den[i]
	}
	r.Median, r.Min, r.Max = median(r.Pairs), slices.Min(r.Pairs), slices.Max(r.Pairs)
	return r
}

// OK reports whether the ratio was measured.
func (r Ratio) OK() bool { return len(r.Pairs) >= MinPairs }

// Tie reports whether the pairs disagree on which side is ahead: their interval spans 1.
func (r Ratio) Tie() bool { return r.OK() && r.Min <= 1 && r.Max >= 1 }

// String is "1.12 (0.95–1.30, 5 pairs, tie)", or "n/a" when not measured.
func (r Ratio) String() string {
	if !r.OK() {
		return "n/a"
	}
	s := fmt.Sprintf("%.2f (%.2f–%.2f, %d pairs", r.Median, r.Min, r.Max, len(r.Pairs))
	if r.Tie() {
		s += ", tie"
	}
	return s + ")"
}
