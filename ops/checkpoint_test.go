package ops_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/ops"
)

// momentumGraph is w (trainable) and its momentum slot, the loss Σ c·w², and one ResourceApplyMomentum.
type momentumGraph struct {
	g    *ops.Graph
	w    *ops.Variable
	slot *ops.Variable
	step *tf.Operation
}

func buildMomentum(t *testing.T, lr, momentum float32, c []float32) *momentumGraph {
	t.Helper()
	m := &momentumGraph{g: ops.NewGraph(5)}
	err := ops.Catch("momentum", m.g, func() error {
		s := m.g.Head("train", true)
		m.w = s.Variable("w", []int64{int64(len(c))}, ops.Normal(1))
		m.slot = s.Variable("w/momentum", []int64{int64(len(c))}, ops.Zeros(), ops.NotTrainable())
		loss := op.Sum(s.Op(), op.Mul(s.Op(), op.Const(s.Op(), c), op.Square(s.Op(), m.w.Value)), op.Const(s.Op(), []int32{0}))
		grad := op.Gradients(m.g.Root(), []tf.Output{loss}, []tf.Output{m.w.Value})
		m.step = op.ResourceApplyMomentum(s.Op(), m.w.Handle, m.slot.Handle, op.Const(s.Op(), lr), grad[0], op.Const(s.Op(), momentum))
		m.g.Saver()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func read32(t *testing.T, sess *tf.Session, v *ops.Variable) []float32 {
	t.Helper()
	out, err := sess.Run(nil, []tf.Output{v.Value}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Value().([]float32)
}

// TestMomentumStepAndCheckpointRoundTrip runs two ResourceApplyMomentum steps on resource variables,
// checks them against the update rule computed in Go, saves every variable with SaveV2, restores with
// RestoreV2 into a fresh session of a freshly built graph, and requires bit-identical values. Python
// TensorFlow's checkpoint reader must then read the same values (the tensor-bundle format is TF's own).
func TestMomentumStepAndCheckpointRoundTrip(t *testing.T) {
	const lr, mom = 0.1, 0.9
	c := []float32{0.5, 1, 2, -1.5}
	m := buildMomentum(t, lr, mom, c)
	sess, err := ops.DefaultSessionConfig().NewSession(m.g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{m.g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	w := read32(t, sess, m.w)
	accum := make([]float32, len(w))
	for step := 0; step < 2; step++ {
		if _, err := sess.Run(nil, nil, []*tf.Operation{m.step}); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			accum[i] = accum[i]*mom + 2*c[i]*w[i]
			w[i] -= lr * accum[i]
		}
	}
	got := read32(t, sess, m.w)
	for i := range w {
		if math.Abs(float64(got[i]-w[i])) > 1e-6*math.Max(1, math.Abs(float64(w[i]))) {
			t.Fatalf("after two momentum steps w = %v, want %v", got, w)
		}
	}

	prefix := filepath.Join(t.TempDir(), "ckpt")
	if err := m.g.Saver().SaveTo(sess, prefix); err != nil {
		t.Fatal(err)
	}
	fresh := buildMomentum(t, lr, mom, c)
	sess2, err := ops.DefaultSessionConfig().NewSession(fresh.g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	if err := fresh.g.Saver().RestoreFrom(sess2, prefix); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*ops.Variable{{m.w, fresh.w}, {m.slot, fresh.slot}} {
		a, b := read32(t, sess, pair[0]), read32(t, sess2, pair[1])
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s restored %v, saved %v: not bit-identical", pair[0].Name, b, a)
			}
		}
	}
	if err := fresh.g.Saver().RestoreFrom(sess2, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("restoring a missing checkpoint succeeded")
	}

	py := pyref.TensorFlow(t)
	out := pyref.Run(t, py, `
import json, sys
import tensorflow as tf
r = tf.train.load_checkpoint(sys.argv[1])
print(json.dumps({k: r.get_tensor(k).tolist() for k in r.get_variable_to_shape_map()}))
`, prefix)
	var fromPython map[string][]float32
	if err := json.Unmarshal(out, &fromPython); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	for _, v := range []*ops.Variable{m.w, m.slot} {
		a, b := read32(t, sess, v), fromPython[v.Name]
		if len(a) != len(b) {
			t.Fatalf("python read %s = %v, want %v", v.Name, b, a)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("python read %s = %v, want %v", v.Name, b, a)
			}
		}
	}
}
