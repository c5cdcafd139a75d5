package ops

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

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
}

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
	if c.XLA {
		cfg.GraphOptions = &pb.GraphOptions{OptimizerOptions: &pb.OptimizerOptions{GlobalJitLevel: pb.OptimizerOptions_ON_1}}
	}
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Config: b}, nil
}

// NewSession opens a session on g with this configuration.
func (c SessionConfig) NewSession(g *tf.Graph) (*tf.Session, error) {
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

// QuietLogs keeps TensorFlow's C++ INFO lines (CPU feature notes, MLIR passes) off a command's stderr
// unless the user set TF_CPP_MIN_LOG_LEVEL. TensorFlow reads that variable when the library loads,
// before main runs, so the only way to set it for this process is to re-execute it with the variable
// set. Commands call QuietLogs first thing in main; if the re-exec fails the command just goes on.
func QuietLogs() {
	if _, set := os.LookupEnv("TF_CPP_MIN_LOG_LEVEL"); set {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=1")
	_ = syscall.Exec(self, os.Args, env) // returns only on failure
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
