package train

import (
	"fmt"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"

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
	sc.CPUDevices = cfg.Runtime.CPUDevices
	return sc
}

// NewSession opens a training session on g for cfg: the runtime section's settings plus the training
// section's train.mixed_precision (TensorFlow's automatic mixed precision rewrite, float16 compute on
// GPUs) and train.deterministic (deterministic kernels, which the process's environment must already
// ask for: cmd/train sets it; see ops.SessionConfig.Deterministic).
func NewSession(cfg *Config, g *tf.Graph) (*tf.Session, error) {
	sc := SessionConfig(cfg)
	sc.MixedPrecision = cfg.Train.MixedPrecision
	sc.Deterministic = cfg.Train.Deterministic
	pl, err := PlacementOf(cfg)
	if err != nil {
		return nil, err
	}
	var sess *tf.Session
	if len(pl.Workers) == 0 {
		sess, err = sc.NewSession(g)
	} else {
		sess, err = newClusterSession(sc, pl, cfg.Cluster.OperationTimeoutS, g)
	}
	if err != nil && sc.Deterministic && !ops.DeterministicKernels() {
		return nil, fmt.Errorf("train.deterministic: %w", err)
	}
	return sess, err
}

// hasGPU reports whether sess sees a GPU device.
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
