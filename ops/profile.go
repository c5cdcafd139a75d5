package ops

// #cgo LDFLAGS: -ltensorflow
// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
// #include "tensorflow/c/tf_tstring.h"
import "C"

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// NodeStat is one node that ran in a traced step.
type NodeStat struct {
	Name string
	// Kernel is the op type that ran, as TensorFlow's step statistics record it: after the runtime's
	// rewrites, so a Conv2D may run as _MklNativeConv2D or _FusedConv2D. Empty when the record has
	// no timeline label.
	Kernel string
	// GraphOp is the op type of the node of that name in the graph passed to RunWithStats; empty when
	// the graph has no such node (grappler and the runtime add and rename nodes) or none was passed.
	GraphOp string
	Device  string
	// Start is when the node started, from the start of the step's first node.
	Start time.Duration
	// Wall is the node's wall time from its scheduling to the end of its outputs (all_end_rel).
	Wall time.Duration
}

// Type is the op type the node is counted under: the kernel that ran when it is known, else the
// graph's op type.
func (n NodeStat) Type() string {
	if n.Kernel != "" {
		return n.Kernel
	}
	if n.GraphOp != "" {
		return n.GraphOp
	}
	return "?"
}

// StepStats is the per-node timing of one session run.
type StepStats struct {
	Nodes []NodeStat // in the order TensorFlow recorded them
	// Span is the step's extent on the clock: the last node's end less the first node's start. With
	// intra- and inter-op parallelism, nodes overlap, so Span is less than Sum.
	Span time.Duration
}

// Sum is the sum of the nodes' wall times. Nodes that run at the same time on different threads both
// count in full, so Sum is CPU-side work in node time, not the step's wall time (that is Span).
func (s *StepStats) Sum() time.Duration {
	var t time.Duration
	for _, n := range s.Nodes {
		t += n.Wall
	}
	return t
}

// OpStat is the time of every node of one op type in a step.
type OpStat struct {
	Op    string
	Total time.Duration // sum of the nodes' wall times
	Count int           // nodes of this type that ran
	Share float64       // Total / StepStats.Sum, in 0..1
}

// ByOp sums the nodes' wall times by NodeStat.Type, largest total first (ties by name), so that the
// op types a step spends its node time in lead. The shares are of Sum, not of Span, since overlapping
// nodes make a share of the step's wall time meaningless.
func (s *StepStats) ByOp() []OpStat {
	idx := map[string]int{}
	var out []OpStat
	for _, n := range s.Nodes {
		t := n.Type()
		i, ok := idx[t]
		if !ok {
			i = len(out)
			idx[t] = i
			out = append(out, OpStat{Op: t})
		}
		out[i].Total += n.Wall
		out[i].Count++
	}
	if sum := s.Sum(); sum > 0 {
		for i := range out {
			out[i].Share = float64(out[i].Total) / float64(sum)
		}
	}
	slices.SortFunc(out, func(a, b OpStat) int { return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Op, b.Op)) })
	return out
}

// Top returns the k nodes with the longest wall times, longest first (ties by name).
func (s *StepStats) Top(k int) []NodeStat {
	nodes := append([]NodeStat(nil), s.Nodes...)
	slices.SortStableFunc(nodes, func(a, b NodeStat) int { return cmp.Or(cmp.Compare(b.Wall, a.Wall), cmp.Compare(a.Name, b.Name)) })
	if k >= 0 && k < len(nodes) {
		nodes = nodes[:k]
	}
	return nodes
}

// RunWithStats runs the graph like sess.Run, with TensorFlow's full trace on, and returns the fetched
// values and the step's per-node statistics. g is the session's graph, from which each node's graph
// op type is taken (nil: GraphOp stays empty).
//
// The Go binding's Session.Run passes no RunOptions and no RunMetadata to TF_SessionRun, so step
// statistics cannot be had through it; this function calls TF_SessionRun itself. The binding keeps
// the C handles of Session, Tensor and Operation in unexported fields, so they are read through
// mirrors of the binding's struct layouts, which are checked against the binding's types (by
// reflection) on every call: a binding whose layout differs gives an error, never a wild pointer.
// The session's lock is the binding's own, so a concurrent Close waits for the run as it does for
// Session.Run.
//
// The fetched values are copies of TensorFlow's outputs (a Go-owned tensor cannot be made from a C
// tensor outside the binding); fetches of types the binding cannot build from bytes (resource,
// variant) give an error. TensorFlow traces through its process-wide profiler, which takes one traced
// run at a time: a second concurrent RunWithStats in the process fails ("Another profiling session
// active"), so callers profile one step after another. A trace slows the step down a little; time
// steps without it. ctx's
// deadline becomes the run's timeout; a run cannot be cancelled once started.
func RunWithStats(ctx context.Context, sess *tf.Session, g *tf.Graph, feeds map[tf.Output]*tf.Tensor, fetches []tf.Output, targets []*tf.Operation) ([]*tf.Tensor, *StepStats, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("run with stats: %w", err)
	}
	if sess == nil {
		return nil, nil, fmt.Errorf("run with stats: nil session")
	}
	if err := checkBindingLayout(); err != nil {
		return nil, nil, fmt.Errorf("run with stats: %w", err)
	}
	opts := &pb.RunOptions{TraceLevel: pb.RunOptions_FULL_TRACE}
	if dl, ok := ctx.Deadline(); ok {
		ms := time.Until(dl).Milliseconds()
		if ms < 1 {
			return nil, nil, fmt.Errorf("run with stats: %w", context.DeadlineExceeded)
		}
		opts.TimeoutInMs = ms
	}
	optBytes, err := proto.Marshal(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("run with stats: run options: %w", err)
	}

	cFeeds := make([]C.TF_Output, 0, len(feeds))
	cFeedVals := make([]*C.TF_Tensor, 0, len(feeds))
	for o, t := range feeds {
		if o.Op == nil || t == nil {
			return nil, nil, fmt.Errorf("run with stats: feed %v: nil operation or tensor", o)
		}
		cFeeds = append(cFeeds, C.TF_Output{oper: cOperation(o.Op), index: C.int(o.Index)})
		cFeedVals = append(cFeedVals, (*tensorLayout)(unsafe.Pointer(t)).c)
	}
	cFetches := make([]C.TF_Output, len(fetches))
	for i, o := range fetches {
		if o.Op == nil {
			return nil, nil, fmt.Errorf("run with stats: fetch %d: nil operation", i)
		}
		cFetches[i] = C.TF_Output{oper: cOperation(o.Op), index: C.int(o.Index)}
	}
	cTargets := make([]*C.TF_Operation, len(targets))
	for i, op := range targets {
		if op == nil {
			return nil, nil, fmt.Errorf("run with stats: target %d: nil operation", i)
		}
		cTargets[i] = cOperation(op)
	}
	// The arrays above are Go memory holding C pointers only, which cgo lets C read during the call;
	// TF_NewBufferFromString copies the options.
	cOpts := C.TF_NewBufferFromString(unsafe.Pointer(&optBytes[0]), C.size_t(len(optBytes)))
	defer C.TF_DeleteBuffer(cOpts)
	meta := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(meta)
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	cFetchVals := make([]*C.TF_Tensor, len(fetches))

	s := (*sessionLayout)(unsafe.Pointer(sess))
	s.mu.Lock()
	if s.c == nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("run with stats: session is closed")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	C.TF_SessionRun(s.c, cOpts,
		ptrOf(cFeeds), ptrOf(cFeedVals), C.int(len(cFeeds)),
		ptrOf(cFetches), ptrOf(cFetchVals), C.int(len(cFetches)),
		ptrOf(cTargets), C.int(len(cTargets)),
		meta, status)
	s.wg.Done()
	runtime.KeepAlive(feeds)
	runtime.KeepAlive(fetches)
	runtime.KeepAlive(targets)
	defer func() {
		for _, t := range cFetchVals {
			if t != nil {
				C.TF_DeleteTensor(t)
			}
		}
	}()
	if C.TF_GetCode(status) != C.TF_OK {
		return nil, nil, fmt.Errorf("run with stats: %w", cleanErr(errors.New(C.GoString(C.TF_Message(status)))))
	}

	out := make([]*tf.Tensor, len(cFetchVals))
	for i, t := range cFetchVals {
		if out[i], err = copyTensor(t); err != nil {
			return nil, nil, fmt.Errorf("run with stats: fetch %d (%s:%d): %w", i, fetches[i].Op.Name(), fetches[i].Index, err)
		}
	}
	md := &pb.RunMetadata{}
	if meta.length > 0 {
		raw := C.GoBytes(meta.data, C.int(meta.length))
		if err := proto.Unmarshal(raw, md); err != nil {
			return nil, nil, fmt.Errorf("run with stats: run metadata (%d bytes): %w", len(raw), err)
		}
	}
	return out, stepStats(md, g), nil
}

// stepStats turns TensorFlow's RunMetadata into a StepStats.
func stepStats(md *pb.RunMetadata, g *tf.Graph) *StepStats {
	type rec struct {
		n          NodeStat
		start, end int64 // ns since the epoch
	}
	var recs []rec
	first, last := int64(0), int64(0)
	for _, dev := range md.GetStepStats().GetDevStats() {
		for _, ns := range dev.GetNodeStats() {
			start, wall := ns.GetAllStartNanos(), ns.GetAllEndRelNanos()
			if start == 0 {
				start, wall = ns.GetAllStartMicros()*1000, ns.GetAllEndRelMicros()*1000
			}
			n := NodeStat{Name: ns.GetNodeName(), Kernel: kernelOf(ns.GetTimelineLabel()), Device: dev.GetDevice(), Wall: time.Duration(wall)}
			if g != nil {
				if op := g.Operation(n.Name); op != nil {
					n.GraphOp = op.Type()
				}
			}
			if len(recs) == 0 || start < first {
				first = start
			}
			if len(recs) == 0 || start+wall > last {
				last = start + wall
			}
			recs = append(recs, rec{n, start, start + wall})
		}
	}
	st := &StepStats{Nodes: make([]NodeStat, len(recs)), Span: time.Duration(last - first)}
	for i, r := range recs {
		r.n.Start = time.Duration(r.start - first)
		st.Nodes[i] = r.n
	}
	return st
}

// kernelOf reads the op type from a timeline label, which TensorFlow writes as
// "[memory] name = Op(inputs)" (Send and Recv as "name = Op(tensor @device)").
func kernelOf(label string) string {
	_, rest, ok := strings.Cut(label, " = ")
	if !ok {
		return ""
	}
	op, _, _ := strings.Cut(rest, "(")
	return strings.TrimSpace(op)
}

// copyTensor copies a C tensor into a Go-owned one.
func copyTensor(t *C.TF_Tensor) (*tf.Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("no value")
	}
	dt := tf.DataType(C.TF_TensorType(t))
	shape := make([]int64, int(C.TF_NumDims(t)))
	n := int64(1)
	for i := range shape {
		shape[i] = int64(C.TF_Dim(t, C.int(i)))
		n *= shape[i]
	}
	if dt == tf.String {
		strs := make([]string, n)
		if n > 0 {
			ts := unsafe.Slice((*C.TF_TString)(C.TF_TensorData(t)), n)
			for i := range ts {
				strs[i] = C.GoStringN(C.TF_TString_GetDataPointer(&ts[i]), C.int(C.TF_TString_GetSize(&ts[i])))
			}
		}
		out, err := tf.NewTensor(nest(strs, shape).Interface())
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	var data []byte
	if size := C.TF_TensorByteSize(t); size > 0 {
		data = C.GoBytes(C.TF_TensorData(t), C.int(size))
	}
	return tf.ReadTensor(dt, shape, bytes.NewReader(data))
}

// nest arranges flat row-major values into nested slices of the shape (a scalar for no dimensions):
// the binding cannot reshape string tensors.
func nest[T any](flat []T, shape []int64) reflect.Value {
	if len(shape) == 0 {
		return reflect.ValueOf(flat[0])
	}
	typ := reflect.TypeOf(flat).Elem()
	for range shape {
		typ = reflect.SliceOf(typ)
	}
	return nestInto(typ, flat, shape)
}

func nestInto[T any](typ reflect.Type, flat []T, shape []int64) reflect.Value {
	v := reflect.MakeSlice(typ, int(shape[0]), int(shape[0]))
	if len(shape) == 1 {
		reflect.Copy(v, reflect.ValueOf(flat))
		return v
	}
	stride := len(flat) / max(int(shape[0]), 1)
	for i := range int(shape[0]) {
		v.Index(i).Set(nestInto(typ.Elem(), flat[i*stride:(i+1)*stride], shape[1:]))
	}
	return v
}

// The binding's structs whose first field is the C handle, mirrored field by field: the mirrors must
// stay identical to the binding's types, which checkBindingLayout verifies.
type (
	sessionLayout struct {
		c  *C.TF_Session
		wg sync.WaitGroup
		mu sync.Mutex
	}
	tensorLayout struct {
		c     *C.TF_Tensor
		shape []int64
	}
	operationLayout struct {
		c *C.TF_Operation
		g *tf.Graph
	}
)

func cOperation(op *tf.Operation) *C.TF_Operation {
	return (*operationLayout)(unsafe.Pointer(op)).c
}

// checkBindingLayout compares each mirror with the binding's type: the same size and, field by
// field, the same name, offset and type (a cgo type by its name, since each package has its own).
func checkBindingLayout() error {
	pairs := []struct{ binding, mirror reflect.Type }{
		{reflect.TypeOf(tf.Session{}), reflect.TypeOf(sessionLayout{})},
		{reflect.TypeOf(tf.Tensor{}), reflect.TypeOf(tensorLayout{})},
		{reflect.TypeOf(tf.Operation{}), reflect.TypeOf(operationLayout{})},
	}
	for _, p := range pairs {
		if err := sameLayout(p.binding, p.mirror); err != nil {
			return fmt.Errorf("the TensorFlow Go binding's %s is not laid out as this package expects (%w); update ops/profile.go to the binding", p.binding, err)
		}
	}
	return nil
}

func sameLayout(b, m reflect.Type) error {
	if b.Size() != m.Size() || b.NumField() != m.NumField() {
		return fmt.Errorf("size %d with %d fields, want %d with %d", b.Size(), b.NumField(), m.Size(), m.NumField())
	}
	for i := range b.NumField() {
		bf, mf := b.Field(i), m.Field(i)
		if bf.Name != mf.Name || bf.Offset != mf.Offset || !sameType(bf.Type, mf.Type) {
			return fmt.Errorf("field %d is %s %s at offset %d, want %s %s at %d", i, bf.Name, bf.Type, bf.Offset, mf.Name, mf.Type, mf.Offset)
		}
	}
	return nil
}

func sameType(b, m reflect.Type) bool {
	if b == m {
		return true
	}
	return b.Kind() == reflect.Pointer && m.Kind() == reflect.Pointer &&
		strings.HasPrefix(b.Elem().Name(), "_Ctype_") && b.Elem().Name() == m.Elem().Name() && b.Elem().Size() == m.Elem().Size()
}

// ptrOf is the address of a slice's first element for C, nil for an empty slice.
func ptrOf[T any](s []T) *T {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}
