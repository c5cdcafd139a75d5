package nets

import (
	"fmt"
	"testing"

	"github.com/finegrain/finegrain/ops"
)

// benchmarkVariants times every variant of ResNet-50 at 224×224 on the CPU, at batch 1 and 16:
//
//	go test ./nets -run '^$' -bench 'Forward' -benchtime 3x
func benchmarkVariants(b *testing.B, backward bool) {
	for _, v := range Attentions() {
		for _, batch := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/batch%d", v, batch), func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.Attention = v
				w, err := NewWorkload(cfg, batch, 224, ops.DefaultSessionConfig())
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				run := w.Forward
				if backward {
					run = w.ForwardBackward
				}
				if err := run(); err != nil { // first run: graph optimisation and allocation
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if err := run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkForward(b *testing.B)         { benchmarkVariants(b, false) }
func BenchmarkForwardBackward(b *testing.B) { benchmarkVariants(b, true) }
