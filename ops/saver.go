package ops

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// Saver writes and reads all variables of a graph in TensorFlow's tensor-bundle checkpoint format
// (SaveV2/RestoreV2: PREFIX.index and PREFIX.data-00000-of-00001), which TensorFlow's own tools read.
// Its op names follow tf.compat.v1.train.Saver, so a SavedModel's SaverDef can point at them.
type Saver struct {
	Filename   tf.Output     // string scalar placeholder: the checkpoint prefix
	Save       *tf.Operation // writes every variable
	SaveTensor tf.Output     // the prefix, produced after Save ran (SaverDef.save_tensor_name)
	Restore    *tf.Operation // assigns every variable from the checkpoint (SaverDef.restore_op_name)
	Names      []string      // tensor names in the checkpoint, one per variable
}

// Saver returns the graph's saver, building it on first use. Variables created afterwards are an error.
func (g *Graph) Saver() *Saver {
	if g.saver != nil {
		return g.saver
	}
	s := g.root.SubScope("save")
	sv := &Saver{}
	sv.Filename = op.PlaceholderWithDefault(s.SubScope("filename"), op.Const(s.SubScope("default"), "model"), tf.ScalarShape())
	values := make([]tf.Output, len(g.vars))
	dtypes := make([]tf.DataType, len(g.vars))
	slices := make([]string, len(g.vars))
	for i, v := range g.vars {
		sv.Names = append(sv.Names, v.Name)
		values[i] = v.Value
		dtypes[i] = g.dtype
	}
	names := op.Const(s.SubScope("tensor_names"), sv.Names)
	specs := op.Const(s.SubScope("shape_and_slices"), slices)
	sv.Save = op.SaveV2(s.SubScope("SaveV2"), sv.Filename, names, specs, values)
	sv.SaveTensor = op.Identity(s.SubScope("control_dependency").WithControlDependencies(sv.Save), sv.Filename)
	restored := op.RestoreV2(s.SubScope("RestoreV2"), sv.Filename, names, specs, dtypes)
	assigns := make([]*tf.Operation, len(g.vars))
	for i, v := range g.vars {
		if i < len(restored) {
			assigns[i] = op.AssignVariableOp(s.SubScope("assign"), v.Handle, restored[i])
		}
	}
	sv.Restore = g.root.AddOperation(tf.OpSpec{Type: "NoOp", Name: "save/restore_all", ControlDependencies: assigns})
	g.saver = sv
	return sv
}

// SaveTo writes every variable to the checkpoint prefix (files prefix.index, prefix.data-*).
func (sv *Saver) SaveTo(sess *tf.Session, prefix string) error {
	t, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{sv.Filename: t}, nil, []*tf.Operation{sv.Save}); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", prefix, cleanErr(err))
	}
	return nil
}

// RestoreFrom assigns every variable from the checkpoint prefix.
func (sv *Saver) RestoreFrom(sess *tf.Session, prefix string) error {
	t, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{sv.Filename: t}, nil, []*tf.Operation{sv.Restore}); err != nil {
		return fmt.Errorf("restore checkpoint %s: %w", prefix, err)
	}
	return nil
}
