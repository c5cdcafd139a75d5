package ops

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	gpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/graph_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"google.golang.org/protobuf/proto"
)

// OnDevice runs build with the graph's root scope placed on device, so that the variables (and their
// reads, initialisers and feeds) and the root-scope ops build creates land there: the parameter device
// of data-parallel training. The graph's scopes share one name space whatever their device.
//
// op.Gradients refuses a scope with a device; use PlacedGradients inside OnDevice.
func (g *Graph) OnDevice(device string, build func() error) error {
	saved := g.root
	g.root = saved.WithDevice(device)
	defer func() { g.root = saved }()
	return build()
}

// PlacedGradients adds the gradients of y with respect to xs under a new root scope name and returns
// them in the order of xs (a zero Output where y does not depend on x). Unlike op.Gradients, whose
// backward ops carry no device and so run wherever the placer puts unplaced ops (the first device),
// it places every backward op on device, beside the forward ops of a tower.
//
// The C API cannot build gradients with a device, so the gradients are built on a copy of the graph and
// the new ops imported back with device as their default.
func (g *Graph) PlacedGradients(name, device string, y tf.Output, xs []tf.Output) ([]tf.Output, error) {
	grads, err := g.placedGradients(name, device, y, xs)
	if err != nil {
		err = fmt.Errorf("gradients %s on %q: %w", name, device, err)
		g.root.UpdateErr(name, err)
	}
	return grads, err
}

func (g *Graph) placedGradients(name, device string, y tf.Output, xs []tf.Output) ([]tf.Output, error) {
	if err := g.Err(); err != nil {
		return nil, err
	}
	// A marker op reserves a unique name space for the gradient ops in the graph's scopes.
	marker := op.NoOp(g.root.SubScope(name))
	if marker == nil {
		return nil, g.Err()
	}
	prefix := strings.TrimSuffix(marker.Name(), "/NoOp") + "/gradients"
	if device == "" {
		return g.tfg.AddGradients(prefix, []tf.Output{y}, xs, nil)
	}

	var def bytes.Buffer
	if _, err := g.tfg.WriteTo(&def); err != nil {
		return nil, fmt.Errorf("serialize graph: %w", err)
	}
	tmp := tf.NewGraph()
	if err := tmp.Import(def.Bytes(), ""); err != nil {
		return nil, fmt.Errorf("copy graph: %w", err)
	}
	lookup := func(gr *tf.Graph, o tf.Output) (tf.Output, error) {
		p := gr.Operation(o.Op.Name())
		if p == nil {
			return tf.Output{}, fmt.Errorf("op %s missing from the graph", o.Op.Name())
		}
		return p.Output(o.Index), nil
	}
	ty, err := lookup(tmp, y)
	if err != nil {
		return nil, err
	}
	txs := make([]tf.Output, len(xs))
	for i, x := range xs {
		if txs[i], err = lookup(tmp, x); err != nil {
			return nil, err
		}
	}
	tgrads, err := tmp.AddGradients(prefix, []tf.Output{ty}, txs, nil)
	if err != nil {
		return nil, err
	}

	def.Reset()
	if _, err := tmp.WriteTo(&def); err != nil {
		return nil, fmt.Errorf("serialize gradients: %w", err)
	}
	var full gpb.GraphDef
	if err := proto.Unmarshal(def.Bytes(), &full); err != nil {
		return nil, fmt.Errorf("read gradients: %w", err)
	}
	inGrads := func(n string) bool { return strings.HasPrefix(n, prefix+"/") }
	sub := &gpb.GraphDef{Versions: full.Versions, Library: full.Library}
	opts := tf.GraphImportOptions{Device: device}
	mapped := map[string]bool{}
	for _, n := range full.Node {
		if !inGrads(n.Name) {
			continue
		}
		for _, in := range n.Input {
			src, idx, control, err := parseInput(in)
			if err != nil {
				return nil, fmt.Errorf("op %s: %w", n.Name, err)
			}
			if inGrads(src) || mapped[in] {
				continue
			}
			if control {
				// The Go bindings cannot remap control inputs on import; none of the gradients of the
				// ops this package uses has one.
				return nil, fmt.Errorf("op %s has a control input from the forward op %s, which cannot be carried across", n.Name, src)
			}
			fwd := g.tfg.Operation(src)
			if fwd == nil {
				return nil, fmt.Errorf("op %s reads %s, which the graph lacks", n.Name, in)
			}
			opts.AddInputMapping(src, idx, fwd.Output(idx))
			mapped[in] = true
		}
		sub.Node = append(sub.Node, n)
	}
	b, err := proto.Marshal(sub)
	if err != nil {
		return nil, fmt.Errorf("serialize gradients: %w", err)
	}
	if err := g.tfg.ImportWithOptions(b, opts); err != nil {
		return nil, fmt.Errorf("import gradients: %w", err)
	}
	grads := make([]tf.Output, len(tgrads))
	for i, tg := range tgrads {
		if tg.Op == nil {
			continue
		}
		// Imported ops keep their names; a gradient may also be a forward tensor passed through.
		if grads[i], err = lookup(g.tfg, tg); err != nil {
			return nil, err
		}
	}
	return grads, nil
}

// parseInput splits a NodeDef input, "op", "op:1" or "^op" (a control input).
func parseInput(in string) (src string, idx int, control bool, err error) {
	if strings.HasPrefix(in, "^") {
		return in[1:], -1, true, nil
	}
	src = in
	if i := strings.LastIndexByte(in, ':'); i >= 0 {
		src = in[:i]
		if idx, err = strconv.Atoi(in[i+1:]); err != nil {
			return "", 0, false, fmt.Errorf("input %q: bad output index", in)
		}
	}
	return src, idx, false, nil
}

// ReplicaFunc builds one replica of the model in the training head s from its share of the inputs (in
// the order given to BuildTowers) and returns the objective to differentiate and any other outputs the
// caller wants from each tower (hit counts, unscaled losses).
type ReplicaFunc func(s *Scope, inputs []tf.Output) (objective tf.Output, outputs []tf.Output, err error)

// Tower is one replica of the model.
type Tower struct {
	Device    string
	Scope     *Scope      // the tower's training head
	Inputs    []tf.Output // this tower's slice of each input
	Objective tf.Output
	Outputs   []tf.Output // what the ReplicaFunc returned beside the objective
	Grads     []tf.Output // gradients of Objective, aligned with Towers.Vars, on Device
}

// Towers is data-parallel training in one graph (TensorFlow's multi-device "towers"): one replica of the
// model per device, all reading the same variables on the parameter device, each on an equal slice of
// the batch, with their gradients averaged on the parameter device for one optimiser update.
//
// Batch normalisation uses each tower's own batch statistics, as separate machines would; only tower
// 0's moving-average updates are kept (Updates), so the moving averages follow one tower's slices.
type Towers struct {
	Devices []string
	Param   string      // parameter device: variables, input slicing, averaging
	Vars    []*Variable // the trainable variables, in creation order
	// Objective is the mean of the towers' objectives and Grads the mean of their gradients, on the
	// parameter device. With equal slices and a mean loss per tower, they are the objective of the
	// whole batch and its gradient, but for batch normalisation's per-tower statistics.
	Objective tf.Output
	Grads     []tf.Output
	Updates   []*tf.Operation // tower 0's batch-norm updates
	// StepSeed is tower 0's step seed placeholder, nil when the model draws no random numbers; tower i
	// uses StepSeed + (0, i), so towers draw different dropout masks from one fed seed.
	StepSeed tf.Output
	Towers   []Tower
}

// BuildTowers builds one replica of the model per device, with heads named name (tower 0, so a
// one-device graph is named as before) and name_towerI. Each input is split into len(devices) equal
// slices along its first axis (a batch that does not divide fails when the step runs). Variables the
// replicas create are placed on param; "" leaves placement to TensorFlow, as does "" for a device.
func (g *Graph) BuildTowers(name string, devices []string, param string, inputs []tf.Output, replica ReplicaFunc) (*Towers, error) {
	if len(devices) == 0 {
		return nil, errors.New("build towers: no devices")
	}
	t := &Towers{Devices: append([]string(nil), devices...), Param: param}
	err := g.OnDevice(param, func() error {
		parts := make([][]tf.Output, len(devices))
		if len(devices) == 1 {
			parts[0] = inputs
		} else {
			ss := g.root.SubScope(name + "_split")
			axis := op.Const(ss.SubScope("axis"), int32(0))
			for _, in := range inputs {
				split := op.Split(ss.SubScope("split"), axis, in, int64(len(devices)))
				for i := range devices {
					parts[i] = append(parts[i], split[i])
				}
			}
		}
		for i, dev := range devices {
			head := name
			if i > 0 {
				head = fmt.Sprintf("%s_tower%d", name, i)
			}
			s := g.Head(head, true)
			s.s = s.s.WithDevice(dev)
			if i > 0 && t.StepSeed.Op != nil {
				sc := g.root.SubScope(head + "_seed")
				s.head.seed = op.Add(sc, t.StepSeed, op.Const(sc.SubScope("offset"), []int64{0, int64(i)}))
			}
			obj, outs, err := replica(s, parts[i])
			if err != nil {
				return fmt.Errorf("tower %d on %q: %w", i, dev, err)
			}
			if err := g.Err(); err != nil {
				return fmt.Errorf("tower %d on %q: %w", i, dev, err)
			}
			if obj.Op == nil {
				return fmt.Errorf("tower %d on %q: no objective", i, dev)
			}
			if i == 0 {
				t.Vars = g.Trainable()
				if len(t.Vars) == 0 {
					return errors.New("the model has no trainable variables")
				}
				t.Updates = s.Updates()
				if s.HasStepSeed() {
					t.StepSeed = s.StepSeed()
				}
			} else if n := len(g.Trainable()); n != len(t.Vars) {
				return fmt.Errorf("tower %d on %q created %d trainable variables beyond tower 0's", i, dev, n-len(t.Vars))
			}
			t.Towers = append(t.Towers, Tower{Device: dev, Scope: s, Inputs: parts[i], Objective: obj, Outputs: outs})
		}
		values := make([]tf.Output, len(t.Vars))
		for i, v := range t.Vars {
			values[i] = v.Value
		}
		for i := range t.Towers {
			tw := &t.Towers[i]
			grads, err := g.PlacedGradients(tw.Scope.head.name+"_gradients", tw.Device, tw.Objective, values)
			if err != nil {
				return fmt.Errorf("tower %d: %w", i, err)
			}
			for j, gr := range grads {
				if gr.Op == nil {
					return fmt.Errorf("variable %s gets no gradient from tower %d's objective", t.Vars[j].Name, i)
				}
			}
			tw.Grads = grads
		}
		if len(t.Towers) == 1 {
			t.Objective, t.Grads = t.Towers[0].Objective, t.Towers[0].Grads
			return nil
		}
		as := g.root.SubScope(name + "_average")
		inv := op.Cast(as.SubScope("inv"), op.Const(as.SubScope("inv"), 1/float64(len(t.Towers))), g.dtype)
		mean := func(xs []tf.Output) tf.Output {
			return op.Mul(as.SubScope("mean"), op.AddN(as.SubScope("sum"), xs), inv)
		}
		objs := make([]tf.Output, len(t.Towers))
		for i, tw := range t.Towers {
			objs[i] = tw.Objective
		}
		t.Objective = mean(objs)
		t.Grads = make([]tf.Output, len(t.Vars))
		for j := range t.Vars {
			gs := make([]tf.Output, len(t.Towers))
			for i, tw := range t.Towers {
				gs[i] = tw.Grads[j]
			}
			t.Grads[j] = mean(gs)
		}
		return g.Err()
	})
	if err != nil {
		g.root.UpdateErr(name, err)
		return nil, fmt.Errorf("build towers %s: %w", name, err)
	}
	return t, nil
}
