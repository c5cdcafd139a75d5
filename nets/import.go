package nets

import (
	"errors"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

// ImportReport lists the graph's variables by name: those assigned from the file, and those left at
// their initial values (attention gates, a classifier of another size).
type ImportReport struct {
	Loaded, Initialised []string
}

// ImportTorchvision assigns weights from a torchvision-named safetensors file (conv1.weight,
// bn1.running_var, layer1.0.conv2.weight, fc.weight, ...) to the graph's variables. Run it after the
// graph's InitOp.
func ImportTorchvision(sess *tf.Session, g *ops.Graph, path string) (ImportReport, error) {
	return ImportReport{}, errors.New("nets.ImportTorchvision: not implemented yet")
}
