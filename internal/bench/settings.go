package bench

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/finegrain/finegrain/ops"
)

// Settings are the TensorFlow knobs a measurement runs under. The thread counts and XLA go into the
// session configuration (Go) or tf.config (Python); the environment variables are read by TensorFlow
// once per process, so a measurement that sets them runs in a process of its own.
type Settings struct {
	IntraOpThreads int  `json:"intra_op_threads"` // 0 = number of CPUs
	InterOpThreads int  `json:"inter_op_threads"` // 0 = TensorFlow's choice
	XLA            bool `json:"xla"`              // Go: session global_jit_level ON_1; Keras: jit_compile
	// XLAFlags is TF_XLA_FLAGS for the process, e.g. "--tf_xla_cpu_global_jit", without which
	// TensorFlow ignores the session's jit level on the CPU.
	XLAFlags string `json:"tf_xla_flags,omitempty"`
	// OneDNN is TF_ENABLE_ONEDNN_OPTS for the process ("0" or "1"); empty keeps TensorFlow's default
	// (on for x86 Linux builds).
	OneDNN string `json:"tf_enable_onednn_opts,omitempty"`
}

// DefaultSettings are the project's defaults (ops.DefaultSessionConfig): every CPU intra-op, two
// inter-op threads, no XLA.
func DefaultSettings() Settings {
	d := ops.DefaultSessionConfig()
	return Settings{IntraOpThreads: d.IntraOpThreads, InterOpThreads: d.InterOpThreads}
}

// Session is the ops session configuration of s.
func (s Settings) Session() ops.SessionConfig {
	c := ops.DefaultSessionConfig()
	c.IntraOpThreads, c.InterOpThreads, c.XLA = s.IntraOpThreads, s.InterOpThreads, s.XLA
	if c.IntraOpThreads <= 0 {
		c.IntraOpThreads = runtime.NumCPU()
	}
	return c
}

// Env is the process environment s needs, as KEY=VALUE entries.
func (s Settings) Env() []string {
	var env []string
	if s.XLAFlags != "" {
		env = append(env, "TF_XLA_FLAGS="+s.XLAFlags)
	}
	if s.OneDNN != "" {
		env = append(env, "TF_ENABLE_ONEDNN_OPTS="+s.OneDNN)
	}
	return env
}

// String is a short label such as "intra=2 inter=2 xla".
func (s Settings) String() string {
	parts := []string{fmt.Sprintf("intra=%d inter=%d", s.Session().IntraOpThreads, s.InterOpThreads)}
	if s.XLA {
		parts = append(parts, "xla")
	}
	if s.XLAFlags != "" {
		parts = append(parts, "TF_XLA_FLAGS="+s.XLAFlags)
	}
	if s.OneDNN != "" {
		parts = append(parts, "onednn="+s.OneDNN)
	}
	return strings.Join(parts, " ")
}
