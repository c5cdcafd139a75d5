package ops

import (
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// TestSessionConfigOptions reads back the ConfigProto that Options serialises: mixed precision is
// TensorFlow's auto_mixed_precision rewrite, XLA the global JIT level, and neither disturbs the other.
func TestSessionConfigOptions(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SessionConfig
		wantAMP pb.RewriterConfig_Toggle
		wantJIT pb.OptimizerOptions_GlobalJitLevel
	}{
		{"default", DefaultSessionConfig(), pb.RewriterConfig_DEFAULT, pb.OptimizerOptions_DEFAULT},
		{"mixed precision", SessionConfig{MixedPrecision: true}, pb.RewriterConfig_ON, pb.OptimizerOptions_DEFAULT},
		{"xla", SessionConfig{XLA: true}, pb.RewriterConfig_DEFAULT, pb.OptimizerOptions_ON_1},
		{"both", SessionConfig{XLA: true, MixedPrecision: true}, pb.RewriterConfig_ON, pb.OptimizerOptions_ON_1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.cfg.Options()
			if err != nil {
				t.Fatal(err)
			}
			cp := &pb.ConfigProto{}
			if err := proto.Unmarshal(opts.Config, cp); err != nil {
				t.Fatal(err)
			}
			amp := cp.GetGraphOptions().GetRewriteOptions().GetAutoMixedPrecision()
			jit := cp.GetGraphOptions().GetOptimizerOptions().GetGlobalJitLevel()
			if amp != tt.wantAMP || jit != tt.wantJIT {
				t.Errorf("auto_mixed_precision %v, global_jit_level %v; want %v, %v", amp, jit, tt.wantAMP, tt.wantJIT)
			}
		})
	}
}

func TestDeterministicKernels(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{{"1", true}, {"true", true}, {"TRUE", true}, {"0", false}, {"false", false}, {"", false}, {"yes", false}} {
		t.Setenv(DeterministicEnv, tt.value)
		if got := DeterministicKernels(); got != tt.want {
			t.Errorf("%s=%q: DeterministicKernels() = %v, want %v", DeterministicEnv, tt.value, got, tt.want)
		}
	}
}

// TestDeterministicSessionNeedsEnvironment: a library cannot switch TensorFlow's deterministic kernels
// on, so a deterministic session in a process that did not is refused with the variable named.
func TestDeterministicSessionNeedsEnvironment(t *testing.T) {
	t.Setenv(DeterministicEnv, "0")
	sess, err := SessionConfig{Deterministic: true}.NewSession(tf.NewGraph())
	if err == nil {
		sess.Close()
		t.Fatal("a deterministic session opened without " + DeterministicEnv)
	}
	if !strings.Contains(err.Error(), DeterministicEnv+"=1") {
		t.Errorf("error %q does not name %s=1", err, DeterministicEnv)
	}
}
