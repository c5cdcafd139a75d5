package bench

import (
	"context"
	"math"
	"os"
	"os/exec"
	"testing"
)

// xlaChild marks the process TestXLAChannelGates starts with TF_XLA_FLAGS set: TensorFlow reads that
// variable once per process, so the XLA step runs in a fresh test binary.
const xlaChild = "FINEGRAIN_TEST_XLA_CHILD"

// TestXLAChannelGates trains the channel gate under XLA auto-clustering, the size at which the global
// max pool's old gradient (the Max reduction's, which divides by the count of elements equal to the
// maximum) gave NaN from the first step: the loss must stay finite.
func TestXLAChannelGates(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a ResNet-50 training step with XLA (about a minute)")
	}
	if os.Getenv(xlaChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestXLAChannelGates$", "-test.v")
		cmd.Env = append(os.Environ(), xlaChild+"=1", "TF_XLA_FLAGS=--tf_xla_cpu_global_jit", "TF_CPP_MIN_LOG_LEVEL=2")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("XLA child: %v\n%s", err, out)
		}
		t.Logf("XLA child:\n%s", out)
		return
	}
	spec := TrainSpec{Attention: "ca", Depth: 50, ImageSize: 112, Batch: 8, Classes: 200, Warmup: 1, Steps: 4,
		Settings: Settings{IntraOpThreads: 2, InterOpThreads: 2, XLA: true, XLAFlags: "--tf_xla_cpu_global_jit"}}
	r, err := Train(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		t.Fatalf("loss %v after %d steps under XLA", r.Loss, 1+spec.Warmup+spec.Steps)
	}
	t.Logf("ca under XLA: loss %.4f after %d steps", r.Loss, 1+spec.Warmup+spec.Steps)
}
