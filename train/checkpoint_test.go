package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

// TestCheckpointerKeepsLastAndBest saves six checkpoints with keep 2, the second marked best: the last
// two and the best remain, nothing temporary is left, and each restores its own values.
func TestCheckpointerKeepsLastAndBest(t *testing.T) {
	g := ops.NewGraph(1)
	var v *ops.Variable
	if err := ops.Catch("checkpoint test", g, func() error {
		v = g.Variable("w", []int64{2}, ops.Zeros())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sv := g.Saver()
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	set := func(x float32) {
		feed, _ := tf.NewTensor([]float32{x, -x})
		if _, err := sess.Run(map[tf.Output]*tf.Tensor{v.Feed: feed}, nil, []*tf.Operation{v.AssignFeed}); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "checkpoints")
	c := &Checkpointer{Dir: dir, Keep: 2, Saver: sv}
	for step := int64(1); step <= 6; step++ {
		set(float32(step))
		if _, err := c.Save(sess, &State{Step: step}, step == 2); err != nil {
			t.Fatal(err)
		}
	}
	// Saving the same step again only updates the pointer.
	if _, err := c.Save(sess, &State{Step: 6}, false); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"checkpoint.json", "ckpt-000000002", "ckpt-000000005", "ckpt-000000006"}
	if !slices.Equal(names, want) {
		t.Fatalf("checkpoints dir holds %v, want %v", names, want)
	}
	p, err := ReadPointer(dir)
	if err != nil || p.Latest != "ckpt-000000006" || p.Best != "ckpt-000000002" || !slices.Equal(p.Checkpoints, want[1:]) {
		t.Fatalf("pointer %+v (%v)", p, err)
	}
	for _, tc := range []struct {
		best bool
		want float32
	}{{false, 6}, {true, 2}} {
		ck, prefix, err := ResolveCheckpoint(filepath.Dir(dir), tc.best)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(prefix, ck) {
			t.Errorf("prefix %s outside %s", prefix, ck)
		}
		set(0)
		if err := sv.RestoreFrom(sess, prefix); err != nil {
			t.Fatal(err)
		}
		out, _ := sess.Run(nil, []tf.Output{v.Value}, nil)
		if got := out[0].Value().([]float32); got[0] != tc.want {
			t.Errorf("best=%v restored %v, want %v", tc.best, got, tc.want)
		}
		st, err := ReadState(ck)
		if err != nil || st.Step != int64(tc.want) {
			t.Errorf("state %+v (%v)", st, err)
		}
	}
	if _, _, err := ResolveCheckpoint(filepath.Join(dir, "nothing"), false); err == nil {
		t.Error("resolved a checkpoint in a missing directory")
	}
}
