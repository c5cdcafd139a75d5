package nets

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/finegrain/finegrain/ops"
)

// BenchmarkGateOverhead times a ResNet-50 training step (forward, backward to every variable, BN
// updates; no optimiser) and an inference pass at 112 px, batch 4, for none and each gated variant,
// alternating between the models every iteration in one process because the machine's speed drifts. It
// reports each variant's medians and its median overhead over none in the same iteration, in percent:
//
//	go test -run XXX -bench GateOverhead -benchtime 10x ./nets/
func BenchmarkGateOverhead(b *testing.B) {
	variants := []Attention{AttentionNone, AttentionCA, AttentionSA, AttentionCSCA}
	ws := make([]*Workload, len(variants))
	for i, v := range variants {
		cfg := DefaultConfig()
		cfg.Attention = v
		w, err := NewWorkload(cfg, 4, 112, ops.DefaultSessionConfig())
		if err != nil {
			b.Fatalf("%s: %v", v, err)
		}
		defer w.Close()
		for range 2 { // first runs: graph optimisation and allocation
			if err := w.ForwardBackward(); err != nil {
				b.Fatal(err)
			}
			if err := w.Forward(); err != nil {
				b.Fatal(err)
			}
		}
		ws[i] = w
	}
	var t [2][][]time.Duration // [train, infer][variant]
	for m := range t {
		t[m] = make([][]time.Duration, len(variants))
	}
	var over [2][][]float64
	for m := range over {
		over[m] = make([][]float64, len(variants))
	}
	b.ResetTimer()
	for n := range b.N {
		for m := range 2 {
			d := make([]time.Duration, len(variants))
			for k := range variants {
				i := (n + k) % len(variants)
				run := ws[i].ForwardBackward
				if m == 1 {
					run = ws[i].Forward
				}
				start := time.Now()
				if err := run(); err != nil {
					b.Fatal(err)
				}
				d[i] = time.Since(start)
				t[m][i] = append(t[m][i], d[i])
			}
			for i := range variants {
				over[m][i] = append(over[m][i], 100*(float64(d[i])/float64(d[0])-1))
			}
		}
	}
	b.StopTimer()
	for m, mode := range []string{"train", "infer"} {
		for i, v := range variants {
			ms := slices.Clone(t[m][i])
			slices.Sort(ms)
			b.ReportMetric(float64(ms[len(ms)/2])/float64(time.Millisecond), fmt.Sprintf("%s-%s-ms", mode, v))
			if i > 0 {
				o := slices.Clone(over[m][i])
				slices.Sort(o)
				b.ReportMetric(o[len(o)/2], fmt.Sprintf("%s-%s-%%", mode, v))
			}
		}
	}
}
