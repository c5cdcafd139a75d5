package ops

import (
	"fmt"
	"math"
	"slices"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// Variable is a resource variable of the graph, named by its path (for example "layer1/0/conv1/kernel").
// Every head reads it through the same ReadVariableOp, Value, which is also what gradients are taken
// with respect to.
type Variable struct {
	Name       string
	Shape      []int64
	Trainable  bool
	Handle     tf.Output     // the VarHandleOp
	Value      tf.Output     // ReadVariableOp of Handle
	Init       *tf.Operation // assigns the initial value
	Feed       tf.Output     // placeholder whose value AssignFeed writes into the variable
	AssignFeed *tf.Operation
}

// Initializer computes a variable's initial value in the graph from a seed of two int64.
type Initializer func(s *op.Scope, dtype tf.DataType, shape []int64, seed [2]int64) tf.Output

// Constant fills the variable with v.
func Constant(v float64) Initializer {
	return func(s *op.Scope, dtype tf.DataType, shape []int64, _ [2]int64) tf.Output {
		return op.Fill(s.SubScope("fill"), op.Const(s.SubScope("shape"), shape), op.Cast(s.SubScope("cast"), op.Const(s.SubScope("value"), v), dtype))
	}
}

// Zeros fills the variable with 0.
func Zeros() Initializer { return Constant(0) }

// Ones fills the variable with 1.
func Ones() Initializer { return Constant(1) }

// Normal draws from N(0, std²) with a stateless, seeded generator.
func Normal(std float64) Initializer {
	return func(s *op.Scope, dtype tf.DataType, shape []int64, seed [2]int64) tf.Output {
		r := op.StatelessRandomNormal(s.SubScope("normal"), op.Const(s.SubScope("shape"), shape), op.Const(s.SubScope("seed"), seed[:]), op.StatelessRandomNormalDtype(dtype))
		return op.Mul(s.SubScope("scale"), r, op.Cast(s.SubScope("cast"), op.Const(s.SubScope("std"), std), dtype))
	}
}

// Uniform draws from U(-limit, limit) with a stateless, seeded generator.
func Uniform(limit float64) Initializer {
	return func(s *op.Scope, dtype tf.DataType, shape []int64, seed [2]int64) tf.Output {
		r := op.StatelessRandomUniform(s.SubScope("uniform"), op.Const(s.SubScope("shape"), shape), op.Const(s.SubScope("seed"), seed[:]), op.StatelessRandomUniformDtype(dtype))
		centred := op.Sub(s.SubScope("centre"), r, op.Cast(s.SubScope("cast"), op.Const(s.SubScope("half"), 0.5), dtype))
		return op.Mul(s.SubScope("scale"), centred, op.Cast(s.SubScope("cast"), op.Const(s.SubScope("width"), 2*limit), dtype))
	}
}

// HeNormalFanOut is torchvision's initialisation of ResNet convolutions (kaiming_normal_, fan_out, relu):
// N(0, 2/fan_out) with fan_out = kh·kw·out for an HWIO kernel.
func HeNormalFanOut(shape []int64) Initializer {
	fanOut := int64(1)
	for i, d := range shape {
		if i != len(shape)-2 { // skip the input-channel axis
			fanOut *= d
		}
	}
	return Normal(math.Sqrt(2 / float64(fanOut)))
}

// VarOption changes how a variable is created.
type VarOption func(*Variable)

// NotTrainable marks a variable (moving statistics, optimiser slots, counters) as excluded from gradients.
func NotTrainable() VarOption { return func(v *Variable) { v.Trainable = false } }

// Variable returns the variable name under this scope's path, creating it on first use. A second head
// that asks for the same path gets the same variable; asking with another shape is an error.
func (s *Scope) Variable(name string, shape []int64, init Initializer, opts ...VarOption) *Variable {
	full := name
	if s.path != "" {
		full = s.path + "/" + name
	}
	return s.g.Variable(full, shape, init, opts...)
}

// Variable returns the variable with the full path name, creating it on first use.
func (g *Graph) Variable(name string, shape []int64, init Initializer, opts ...VarOption) *Variable {
	if v, ok := g.byName[name]; ok {
		if !slices.Equal(v.Shape, shape) {
			g.root.UpdateErr(name, fmt.Errorf("variable %s exists with shape %v, asked for %v", name, v.Shape, shape))
		}
		return v
	}
	if g.saver != nil {
		g.root.UpdateErr(name, fmt.Errorf("variable %s created after the saver", name))
	}
	v := &Variable{Name: name, Shape: slices.Clone(shape), Trainable: true}
	for _, o := range opts {
		o(v)
	}
	s := g.root.SubScope(name)
	v.Handle = g.root.AddOperation(tf.OpSpec{
		Type: "VarHandleOp", Name: name,
		Attrs: map[string]any{"dtype": g.dtype, "shape": tf.MakeShape(shape...), "shared_name": name, "container": ""},
	}).Output(0)
	v.Value = op.ReadVariableOp(s.SubScope("read"), v.Handle, g.dtype)
	v.Init = op.AssignVariableOp(s.SubScope("init"), v.Handle, init(s.SubScope("initial_value"), g.dtype, shape, g.seedFor(name)))
	v.Feed = op.Placeholder(s.SubScope("feed"), g.dtype, op.PlaceholderShape(tf.MakeShape(shape...)))
	v.AssignFeed = op.AssignVariableOp(s.SubScope("assign_feed"), v.Handle, v.Feed)
	g.vars = append(g.vars, v)
	g.byName[name] = v
	return v
}

// Variables returns the graph's variables in creation order.
func (g *Graph) Variables() []*Variable { return slices.Clone(g.vars) }

// Trainable returns the trainable variables in creation order.
func (g *Graph) Trainable() []*Variable {
	var out []*Variable
	for _, v := range g.vars {
		if v.Trainable {
			out = append(out, v)
		}
	}
	return out
}

// Lookup returns the variable with the full path name, or nil.
func (g *Graph) Lookup(name string) *Variable { return g.byName[name] }

// InitOp returns one op that initialises every variable created so far.
func (g *Graph) InitOp() *tf.Operation {
	deps := make([]*tf.Operation, 0, len(g.vars))
	for _, v := range g.vars {
		deps = append(deps, v.Init)
	}
	return op.NoOp(g.root.SubScope("init_all").WithControlDependencies(deps...))
}

// ParamCount is the number of scalars in the trainable variables.
func (g *Graph) ParamCount() int64 {
	var n int64
	for _, v := range g.Trainable() {
		n += NumElements(v.Shape)
	}
	return n
}

// NumElements is the number of values of a tensor of the given shape.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
