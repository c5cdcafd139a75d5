package nets

import (
	"errors"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

// Outputs are the tensors a model head exposes.
type Outputs struct {
	Logits   tf.Output // [N, K]
	CAM      tf.Output // [N, h, w, K] class activation maps; their spatial mean is Logits
	Features tf.Output // last feature map [N, h, w, C]
}

// Build adds the model under head scope s for images: float32 [N, H, W, 3] RGB in 0..255. ImageNet
// mean/std normalisation happens here (the only place in the project).
func Build(s *ops.Scope, images tf.Output, cfg Config) (Outputs, error) {
	if err := cfg.Validate(); err != nil {
		return Outputs{}, err
	}
	return Outputs{}, errors.New("nets.Build: not implemented yet")
}
