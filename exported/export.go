package exported

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
)

// Names in the exported model: signatures, their inputs and outputs, and asset files.
const (
	ServingDefault = "serving_default"
	PredictJPEG    = "predict_jpeg"
	InputImages    = "images"
	InputBytes     = "image_bytes"
	OutputLogits   = "logits"
	OutputProbs    = "probabilities"
	OutputCAM      = "cam"
	LabelsFile     = "labels.txt"
	MetadataFile   = "metadata.json"
)

// BuildFunc adds a classifier under the inference head s for images (float32 [N, S, S, 3], RGB in
// 0..255) and returns its outputs. nets.Build is the usual one.
type BuildFunc func(s *ops.Scope, images tf.Output) (nets.Outputs, error)

// Weights fills the variables of the export graph in sess (after they were initialised).
type Weights func(ctx context.Context, sess *tf.Session, g *ops.Graph) error

// FromCheckpoint restores the variables from a SaveV2 checkpoint prefix such as a training run's
// checkpoint; tensors of the checkpoint that the model does not use (optimiser slots) are ignored.
func FromCheckpoint(prefix string) Weights {
	return func(_ context.Context, sess *tf.Session, g *ops.Graph) error {
		return g.Saver().RestoreFrom(sess, prefix)
	}
}

// Spec is a model to export.
type Spec struct {
	Net        nets.Config
	Build      BuildFunc  // nil: nets.Build with Net
	Preprocess Preprocess // input size and predict_jpeg's resize
	Labels     []string   // class names in class-id order; nil: class_0, class_1, ...
	Dataset    string
	Config     json.RawMessage
	Metrics    map[string]float64
	Session    *ops.SessionConfig // nil: ops.DefaultSessionConfig()
	// Optimize writes an inference-only model (WriteOptimized): weights frozen into constants and
	// batch norm folded into the convolutions, for lower latency where the model is only served.
	Optimize bool
}

// Export builds the serving graph of spec (signatures serving_default and predict_jpeg over shared
// variables), fills its variables with weights and writes it as a SavedModel to dir (see Write).
func Export(ctx context.Context, dir string, spec Spec, weights Weights) error {
	if err := spec.Net.Validate(); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := spec.Preprocess.validate(); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	labels := spec.Labels
	if labels == nil {
		for k := range spec.Net.NumClasses {
			labels = append(labels, "class_"+strconv.Itoa(k))
		}
	}
	if len(labels) != spec.Net.NumClasses {
		return fmt.Errorf("export %s: %d labels for %d classes", dir, len(labels), spec.Net.NumClasses)
	}
	if err := checkLabels(labels); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	release, err := claimOutput(dir)
	if err != nil {
		return err
	}
	defer release()
	build := spec.Build
	if build == nil {
		build = func(s *ops.Scope, images tf.Output) (nets.Outputs, error) { return nets.Build(s, images, spec.Net) }
	}
	g := ops.NewGraph(0)
	sigs, err := buildServing(g, build, spec.Preprocess)
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := ops.DefaultSessionConfig()
	if spec.Session != nil {
		cfg = *spec.Session
	}
	sess, err := cfg.NewSession(g.TF())
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		return fmt.Errorf("export %s: initialise variables: %w", dir, err)
	}
	if weights != nil {
		if err := weights(ctx, sess, g); err != nil {
			return fmt.Errorf("export %s: load weights: %w", dir, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(Metadata{
		Dataset:    spec.Dataset,
		ImageSize:  spec.Preprocess.ImageSize,
		ResizeSize: spec.Preprocess.ResizeSize,
		Net:        spec.Net,
		Config:     spec.Config,
		Metrics:    spec.Metrics,
		TensorFlow: tf.Version(),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("export %s: metadata: %w", dir, err)
	}
	m := SavedModel{
		Graph:      g,
		Signatures: sigs,
		Assets: map[string][]byte{
			LabelsFile:   []byte(strings.Join(labels, "\n") + "\n"),
			MetadataFile: append(meta, '\n'),
		},
	}
	if spec.Optimize {
		_, err := WriteOptimized(dir, sess, m)
		return err
	}
	return Write(dir, sess, m)
}

// buildServing adds both signatures' heads to g. The heads share the model's variables.
func buildServing(g *ops.Graph, build BuildFunc, p Preprocess) (map[string]Signature, error) {
	sigs := map[string]Signature{}
	err := ops.Catch("serving graph", g, func() error {
		root := g.Root()
		size := int64(p.ImageSize)
		images := op.Placeholder(root.SubScope(InputImages), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, size, size, 3)))
		out, err := build(g.Head("serve", false), images)
		if err != nil {
			return err
		}
		sigs[ServingDefault] = Signature{Inputs: map[string]tf.Output{InputImages: images}, Outputs: namedOutputs(root.SubScope(ServingDefault), out)}

		data := op.Placeholder(root.SubScope(InputBytes), tf.String, op.PlaceholderShape(tf.MakeShape(-1)))
		decoded, err := decodeBatch(g.TF(), PredictJPEG+"_decode", data, p)
		if err != nil {
			return err
		}
		out, err = build(g.Head(PredictJPEG, false), decoded)
		if err != nil {
			return err
		}
		sigs[PredictJPEG] = Signature{Inputs: map[string]tf.Output{InputBytes: data}, Outputs: namedOutputs(root.SubScope(PredictJPEG), out)}
		return nil
	})
	return sigs, err
}

// checkLabels refuses class names that labels.txt (one a line) or a reader of the predictions could
// not tell apart: empty or blank ones, control characters, invalid UTF-8, duplicates.
func checkLabels(labels []string) error {
	seen := make(map[string]int, len(labels))
	for i, l := range labels {
		switch {
		case strings.TrimSpace(l) == "":
			return fmt.Errorf("label %d (%q) is empty", i, l)
		case !utf8.ValidString(l):
			return fmt.Errorf("label %d (%q) is not valid UTF-8", i, l)
		case strings.IndexFunc(l, unicode.IsControl) >= 0:
			return fmt.Errorf("label %d (%q) holds a control character", i, l)
		case l != strings.TrimSpace(l):
			return fmt.Errorf("label %d (%q) starts or ends with white space, which labels.txt would lose", i, l)
		}
		if j, ok := seen[l]; ok {
			return fmt.Errorf("labels %d and %d are both %q: class names must be distinct", j, i, l)
		}
		seen[l] = i
	}
	return nil
}

// namedOutputs gives the signature's outputs readable tensor names (SIGNATURE/logits/Identity, ...).
func namedOutputs(s *op.Scope, out nets.Outputs) map[string]tf.Output {
	return map[string]tf.Output{
		OutputLogits: op.Identity(s.SubScope(OutputLogits), out.Logits),
		OutputProbs:  op.Softmax(s.SubScope(OutputProbs), out.Logits),
		OutputCAM:    op.Identity(s.SubScope(OutputCAM), out.CAM),
	}
}
