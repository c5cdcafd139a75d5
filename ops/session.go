package ops

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// SessionConfig is every session setting the project uses, in one place.
type SessionConfig struct {
	IntraOpThreads int  // threads inside one op; 0 = number of CPUs
	InterOpThreads int  // ops run concurrently; 0 = TensorFlow's choice
	XLA            bool // XLA JIT compilation of the graph (global_jit_level ON_1)
	// GPUMemoryGrowth lets TensorFlow take GPU memory as needed instead of all at once.
	GPUMemoryGrowth bool
	// MixedPrecision turns on TensorFlow's automatic mixed precision graph rewrite: float16 compute on
	// GPUs, nothing on a CPU. The loss scaling it needs is the training graph's business, not the
	// session's.
	MixedPrecision bool
	// Deterministic asks for TensorFlow's deterministic kernels (ops without one then fail instead of
	// silently varying). TensorFlow takes that request only from the process environment
	// (DeterministicEnv=1, read when the first op asks), which a library must not set: the process sets
	// it before the first session (the commands through internal/cli), and NewSession refuses a
	// deterministic session in a process without it rather than run kernels that may vary.
	Deterministic bool
	// CPUDevices splits the CPU into that many TensorFlow devices (CPU:0 ... CPU:N-1; 0 or 1: one), so
	// towers of data-parallel training can be tested without several GPUs.
	CPUDevices int
}

// DeterministicEnv is the environment variable through which TensorFlow selects deterministic kernels.
const DeterministicEnv = "TF_DETERMINISTIC_OPS"

// DefaultSessionConfig uses every CPU for intra-op work and one inter-op thread pool of two.
func DefaultSessionConfig() SessionConfig {
	return SessionConfig{IntraOpThreads: runtime.NumCPU(), InterOpThreads: 2, GPUMemoryGrowth: true}
}

// Options returns the session options carrying this configuration as a serialized ConfigProto.
func (c SessionConfig) Options() (*tf.SessionOptions, error) {
	cfg := &pb.ConfigProto{
		IntraOpParallelismThreads: int32(c.IntraOpThreads),
		InterOpParallelismThreads: int32(c.InterOpThreads),
		AllowSoftPlacement:        true,
		GpuOptions:                &pb.GPUOptions{AllowGrowth: c.GPUMemoryGrowth},
	}
	if c.CPUDevices > 1 {
		cfg.DeviceCount = map[string]int32{"CPU": int32(c.CPUDevices)}
	}
	if c.XLA || c.MixedPrecision {
		cfg.GraphOptions = &pb.GraphOptions{}
	}
	if c.XLA {
		cfg.GraphOptions.OptimizerOptions = &pb.OptimizerOptions{GlobalJitLevel: pb.OptimizerOptions_ON_1}
	}
	if c.MixedPrecision {
		cfg.GraphOptions.RewriteOptions = &pb.RewriterConfig{AutoMixedPrecision: pb.RewriterConfig_ON}
	}
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Config: b}, nil
}

// NewSession opens a session on g with this configuration.
func (c SessionConfig) NewSession(g *tf.Graph) (*tf.Session, error) {
	if c.Deterministic && !DeterministicKernels() {
		return nil, fmt.Errorf("new session: deterministic kernels need %s=1 in the process environment before TensorFlow runs its first op; set it where the process starts (the commands do)", DeterministicEnv)
	}
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return sess, nil
}

// DeterministicKernels reports whether this process's environment makes TensorFlow select deterministic
// kernels: TensorFlow reads DeterministicEnv as 1 or true, in any case.
func DeterministicKernels() bool {
	v := strings.ToLower(os.Getenv(DeterministicEnv))
	return v == "1" || v == "true"
}

// Runtime describes the TensorFlow library this process runs on.
type Runtime struct {
	Version string
	Devices []string // e.g. /job:localhost/replica:0/task:0/device:CPU:0 (CPU)
	GPU     bool     // a GPU device is visible
}

// Probe reports TensorFlow's version and the devices a session sees.
func Probe() (Runtime, error) {
	rt := Runtime{Version: tf.Version()}
	g := tf.NewGraph()
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		return rt, fmt.Errorf("probe devices: %w", err)
	}
	defer sess.Close()
	devs, err := sess.ListDevices()
	if err != nil {
		return rt, fmt.Errorf("probe devices: %w", err)
	}
	for _, d := range devs {
		rt.Devices = append(rt.Devices, fmt.Sprintf("%s (%s)", d.Name, d.Type))
		if strings.EqualFold(d.Type, "GPU") {
			rt.GPU = true
		}
	}
	return rt, nil
}
