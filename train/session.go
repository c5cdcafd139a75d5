package train

import (
	"fmt"
	"os"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/ops"
)

// SessionConfig is the ops session configuration of cfg's runtime section.
func SessionConfig(cfg *Config) ops.SessionConfig {
	sc := ops.DefaultSessionConfig()
	if cfg.Runtime.IntraOpThreads > 0 {
		sc.IntraOpThreads = cfg.Runtime.IntraOpThreads
	}
	sc.InterOpThreads = cfg.Runtime.InterOpThreads
	sc.XLA = cfg.Runtime.XLA
	return sc
}

// NewSession opens a session on g for cfg. train.mixed_precision turns on TensorFlow's automatic mixed
// precision rewrite (float16 compute on GPUs). train.deterministic sets TF_DETERMINISTIC_OPS=1 in the
// process environment, where TensorFlow reads it once, before the first op runs: it selects
// deterministic kernels (and makes ops without one fail instead of silently varying).
func NewSession(cfg *Config, g *tf.Graph) (*tf.Session, error) {
	if cfg.Train.Deterministic {
		if err := os.Setenv("TF_DETERMINISTIC_OPS", "1"); err != nil {
			return nil, fmt.Errorf("train.deterministic: %w", err)
		}
	}
	opts, err := SessionConfig(cfg).Options()
	if err != nil {
		return nil, err
	}
	if cfg.Train.MixedPrecision {
		cp := &pb.ConfigProto{}
		if err := proto.Unmarshal(opts.Config, cp); err != nil {
			return nil, fmt.Errorf("session config: %w", err)
		}
		if cp.GraphOptions == nil {
			cp.GraphOptions = &pb.GraphOptions{}
		}
		if cp.GraphOptions.RewriteOptions == nil {
			cp.GraphOptions.RewriteOptions = &pb.RewriterConfig{}
		}
		cp.GraphOptions.RewriteOptions.AutoMixedPrecision = pb.RewriterConfig_ON
		if opts.Config, err = proto.Marshal(cp); err != nil {
			return nil, fmt.Errorf("session config: %w", err)
		}
	}
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return sess, nil
}

func hasGPU(sess *tf.Session) bool {
	devs, err := sess.ListDevices()
	if err != nil {
		return false
	}
	for _, d := range devs {
		if strings.EqualFold(d.Type, "GPU") {
			return true
		}
	}
	return false
}
