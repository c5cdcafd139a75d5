package ops

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	ssp "github.com/galeone/tensorflow/tensorflow/go/core/framework/step_stats_go_proto"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// statsGraph is relu(x·w + b) with a random x fed, and a string and an int32 constant beside it.
type statsGraph struct {
	g             *tf.Graph
	x, y, s, n    tf.Output
	feed          *tf.Tensor
	matmul, relu  string
	wantGraphOpOf map[string]string
}

func newStatsGraph(t *testing.T) *statsGraph {
	t.Helper()
	rng := rand.New(rand.NewPCG(20, 1))
	mat := func(r, c int) [][]float32 {
		m := make([][]float32, r)
		for i := range m {
			m[i] = make([]float32, c)
			for j := range m[i] {
				m[i][j] = rng.Float32()*2 - 1
			}
		}
		return m
	}
	root := op.NewScope()
	x := op.Placeholder(root.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(4, 8)))
	mm := op.MatMul(root.SubScope("matmul"), x, op.Const(root.SubScope("w"), mat(8, 16)))
	add := op.AddV2(root.SubScope("add"), mm, op.Const(root.SubScope("b"), mat(1, 16)[0]))
	y := op.Relu(root.SubScope("relu"), add)
	s := op.Const(root.SubScope("s"), [][]string{{"a", "bc"}, {"", "def"}})
	n := op.Const(root.SubScope("n"), []int32{3, -1, 7})
	g, err := root.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	feed, err := tf.NewTensor(mat(4, 8))
	if err != nil {
		t.Fatal(err)
	}
	return &statsGraph{g: g, x: x, y: y, s: s, n: n, feed: feed, matmul: mm.Op.Name(), relu: y.Op.Name()}
}

// TestRunWithStatsMatchesRun runs one graph through the binding's Session.Run and through
// RunWithStats. Equal values and statistics naming the graph's nodes show that the C handles read
// through the mirrored struct layouts are the binding's.
func TestRunWithStatsMatchesRun(t *testing.T) {
	sg := newStatsGraph(t)
	sess, err := tf.NewSession(sg.g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	feeds := map[tf.Output]*tf.Tensor{sg.x: sg.feed}
	fetches := []tf.Output{sg.y, sg.s, sg.n}
	want, err := sess.Run(feeds, fetches, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := RunWithStats(context.Background(), sess, sg.g, feeds, fetches, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].Value(), want[i].Value()) || !reflect.DeepEqual(got[i].Shape(), want[i].Shape()) {
			t.Errorf("fetch %d (%s): %v %v, Session.Run gave %v %v", i, fetches[i].Op.Name(), got[i].Shape(), got[i].Value(), want[i].Shape(), want[i].Value())
		}
	}

	if len(st.Nodes) == 0 || st.Span <= 0 || st.Sum() <= 0 {
		t.Fatalf("stats: %d nodes, span %v, sum %v; want nodes and positive times", len(st.Nodes), st.Span, st.Sum())
	}
	byName := map[string]NodeStat{}
	for _, n := range st.Nodes {
		byName[n.Name] = n
		if n.Start < 0 || n.Start+n.Wall > st.Span {
			t.Errorf("node %s: start %v wall %v outside the span %v", n.Name, n.Start, n.Wall, st.Span)
		}
		if n.Device == "" {
			t.Errorf("node %s: no device", n.Name)
		}
	}
	// The runtime may fuse the MatMul, the Add and the Relu into one kernel named after the Relu; the
	// Relu's name and a MatMul kernel are there either way.
	relu, ok := byName[sg.relu]
	if !ok {
		t.Fatalf("no statistics for node %s in %v", sg.relu, names(st.Nodes))
	}
	if relu.GraphOp != "Relu" || relu.Kernel == "" {
		t.Errorf("node %s: graph op %q, kernel %q; want Relu and the kernel's type", sg.relu, relu.GraphOp, relu.Kernel)
	}
	var matmul bool
	var shares float64
	for _, o := range st.ByOp() {
		matmul = matmul || strings.Contains(o.Op, "MatMul")
		shares += o.Share
	}
	if !matmul {
		t.Errorf("no MatMul kernel among %+v", st.ByOp())
	}
	if shares < 0.999 || shares > 1.001 {
		t.Errorf("shares sum to %v, want 1", shares)
	}
	t.Logf("%d nodes, span %v, sum %v, by op %+v", len(st.Nodes), st.Span, st.Sum(), st.ByOp())
}

func names(ns []NodeStat) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name+"="+n.Type())
	}
	return out
}

// TestRunWithStatsErrors: bad runs give errors, never a panic or a crash in C.
func TestRunWithStatsErrors(t *testing.T) {
	sg := newStatsGraph(t)
	open := func(t *testing.T) *tf.Session {
		sess, err := tf.NewSession(sg.g, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Close() })
		return sess
	}
	wrongType, err := tf.NewTensor([][]int32{{1}})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		sess    func(t *testing.T) *tf.Session
		feeds   map[tf.Output]*tf.Tensor
		fetches []tf.Output
		want    string
	}{
		{"closed session", context.Background(), func(t *testing.T) *tf.Session {
			s := open(t)
			s.Close()
			return s
		}, map[tf.Output]*tf.Tensor{sg.x: sg.feed}, []tf.Output{sg.y}, "session is closed"},
		{"nil session", context.Background(), func(*testing.T) *tf.Session { return nil }, nil, []tf.Output{sg.n}, "nil session"},
		{"feed of the wrong type", context.Background(), open, map[tf.Output]*tf.Tensor{sg.x: wrongType}, []tf.Output{sg.y}, "float"},
		{"missing feed", context.Background(), open, nil, []tf.Output{sg.y}, "x"},
		{"nil fetch", context.Background(), open, nil, []tf.Output{{}}, "fetch 0"},
		{"nil feed tensor", context.Background(), open, map[tf.Output]*tf.Tensor{sg.x: nil}, []tf.Output{sg.y}, "nil operation or tensor"},
		{"cancelled context", cancelled, open, map[tf.Output]*tf.Tensor{sg.x: sg.feed}, []tf.Output{sg.y}, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, err := RunWithStats(tt.ctx, tt.sess(t), sg.g, tt.feeds, tt.fetches, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
			if out != nil || st != nil {
				t.Errorf("values %v, stats %v with an error", out, st)
			}
		})
	}
}

// TestRunWithStatsConcurrentClose closes the session while runs are in flight: Close waits on the
// binding's lock, which RunWithStats takes, so no run uses a deleted session.
func TestRunWithStatsConcurrentClose(t *testing.T) {
	sg := newStatsGraph(t)
	sess, err := tf.NewSession(sg.g, nil)
	if err != nil {
		t.Fatal(err)
	}
	// One goroutine: TensorFlow's tracer allows one traced run per process at a time.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			_, _, err := RunWithStats(context.Background(), sess, sg.g, map[tf.Output]*tf.Tensor{sg.x: sg.feed}, []tf.Output{sg.y}, nil)
			if err != nil && !strings.Contains(err.Error(), "session is closed") {
				t.Errorf("run: %v", err)
				return
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestStatsBindingLayout fails when the Go binding's Session, Tensor or Operation change shape, and
// shows that the check sees a difference.
func TestStatsBindingLayout(t *testing.T) {
	if err := checkBindingLayout(); err != nil {
		t.Fatal(err)
	}
	type moved struct {
		shape []int64
		c     *tensorLayout
	}
	type renamed struct {
		h     *tensorLayout
		shape []int64
	}
	for _, m := range []reflect.Type{reflect.TypeOf(moved{}), reflect.TypeOf(renamed{}), reflect.TypeOf(sessionLayout{})} {
		if err := sameLayout(reflect.TypeOf(tf.Tensor{}), m); err == nil {
			t.Errorf("tf.Tensor matches %v", m)
		}
	}
}

func TestStatsKernelOf(t *testing.T) {
	tests := []struct{ label, want string }{
		{"matmul = MatMul(x, w)", "MatMul"},
		{"layer1/0/conv = _MklNativeConv2D(pad, kernel, DMT/_0, DMT/_1)", "_MklNativeConv2D"},
		{"[cpu 1.5MB 1.5MB] relu = _FusedConv2D(x, w, b)", "_FusedConv2D"},
		{"_SOURCE = NoOp()", "NoOp"},
		{"send = _Send(y:0 @/device:CPU:0)", "_Send"},
		{"", ""},
		{"no label", ""},
	}
	for _, tt := range tests {
		if got := kernelOf(tt.label); got != tt.want {
			t.Errorf("kernelOf(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}

// TestStepStatsAggregates builds RunMetadata by hand: overlapping nodes make Sum exceed Span, and
// the op types sum their nodes.
func TestStepStatsAggregates(t *testing.T) {
	node := func(name, label string, startUs, wallUs int64) *ssp.NodeExecStats {
		return &ssp.NodeExecStats{NodeName: name, TimelineLabel: label, AllStartMicros: 1_000_000 + startUs, AllEndRelMicros: wallUs}
	}
	md := &pb.RunMetadata{StepStats: &ssp.StepStats{DevStats: []*ssp.DeviceStepStats{{
		Device: "/device:CPU:0",
		NodeStats: []*ssp.NodeExecStats{
			node("a", "a = _MklNativeConv2D(x, w)", 0, 400),
			node("b", "b = _MklNativeConv2D(x, w)", 100, 400), // overlaps a
			node("c", "c = Relu(b)", 500, 200),
			node("d", "", 700, 0),
		},
	}}}}
	g := op.NewScope()
	a := op.Placeholder(g.SubScope("a"), tf.Float)
	md.StepStats.DevStats[0].NodeStats[0].NodeName = a.Op.Name()
	graph, err := g.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	st := stepStats(md, graph)
	if st.Span != 700*time.Microsecond || st.Sum() != 1000*time.Microsecond {
		t.Errorf("span %v, sum %v; want 700µs, 1ms", st.Span, st.Sum())
	}
	if st.Nodes[0].GraphOp != "Placeholder" || st.Nodes[1].GraphOp != "" || st.Nodes[1].Start != 100*time.Microsecond {
		t.Errorf("nodes %+v", st.Nodes)
	}
	want := []OpStat{
		{"_MklNativeConv2D", 800 * time.Microsecond, 2, 0.8},
		{"Relu", 200 * time.Microsecond, 1, 0.2},
		{"?", 0, 1, 0},
	}
	if got := st.ByOp(); !reflect.DeepEqual(got, want) {
		t.Errorf("by op %+v, want %+v", got, want)
	}
	if top := st.Top(2); len(top) != 2 || top[0].Name != a.Op.Name() || top[1].Name != "b" {
		t.Errorf("top 2: %+v", top)
	}
	if empty := stepStats(&pb.RunMetadata{}, nil); len(empty.Nodes) != 0 || empty.Span != 0 || empty.ByOp() != nil {
		t.Errorf("empty metadata: %+v", empty)
	}
}
