package ops

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	tg "github.com/galeone/tfgo"
)

// Graph is a TensorFlow graph under construction together with its variables. Layers are added through
// Scopes; the first construction error is kept and reported by Err and Finalize, so graph code can be
// written straight through and checked once.
type Graph struct {
	tfg    *tf.Graph
	root   *op.Scope
	dtype  tf.DataType
	seed   int64
	vars   []*Variable
	byName map[string]*Variable
	heads  map[string]bool
	saver  *Saver
}

// NewGraph returns an empty graph whose variables are float32 and initialised from seed.
func NewGraph(seed int64) *Graph { return NewGraphOf(tf.Float, seed) }

// NewGraphOf is NewGraph with variables of another floating type (float64 for gradient checks).
func NewGraphOf(dtype tf.DataType, seed int64) *Graph {
	tfg := tf.NewGraph()
	return &Graph{tfg: tfg, root: op.NewScopeWithGraph(tfg), dtype: dtype, seed: seed, byName: map[string]*Variable{}, heads: map[string]bool{}}
}

// DType is the floating type of the graph's variables.
func (g *Graph) DType() tf.DataType { return g.dtype }

// Root is the root op scope, for ops that belong to no head (feeds, savers, initialisers).
func (g *Graph) Root() *op.Scope { return g.root }

// TF is the underlying TensorFlow graph. Sessions may be created on it before building is finished.
func (g *Graph) TF() *tf.Graph { return g.tfg }

// Err returns the first error met while building the graph.
func (g *Graph) Err() error { return cleanErr(g.root.Err()) }

// Head starts a named part of the model (for example "train" or "eval"): a prefix for op names and the
// batch-norm mode. Heads share the graph's variables, so training and evaluation use the same weights.
func (g *Graph) Head(name string, training bool) *Scope {
	if g.heads[name] {
		g.root.UpdateErr("Head", fmt.Errorf("head %q built twice", name))
	}
	g.heads[name] = true
	return &Scope{g: g, s: g.root.SubScope(name), training: training, head: &headState{name: name}}
}

// Scope is a position in the model: the op name scope, the variable path (for example
// "layer3/2/ca/fc1") and the mode of the head it belongs to.
type Scope struct {
	g        *Graph
	s        *op.Scope
	path     string
	training bool
	head     *headState
}

type headState struct {
	name    string
	updates []*tf.Operation
	seed    tf.Output // int64 [2], fed per step; nil until a random layer asks for it
}

// Sub returns the child scope name: ops and variables created through it are named path/name/...
func (s *Scope) Sub(name string) *Scope {
	p := name
	if s.path != "" {
		p = s.path + "/" + name
	}
	return &Scope{g: s.g, s: s.s.SubScope(name), path: p, training: s.training, head: s.head}
}

// Op returns a new, uniquely named op scope under this scope (op, op_1, ...), for calling the op wrappers
// directly: op.X(s.Op(), ...). The wrappers name an op by its type alone, so each op gets a scope of its
// own. The names are unique per graph, not per process: tfgo's tg.NewScope numbers scopes with one
// counter for the whole process, so a graph's op names, and its GraphDef, would depend on what the
// process built before it; with per-graph names the same model gives the same GraphDef in every
// process. Op names never reach variable names (those are paths, see Variable), checkpoints or
// SavedModel signatures.
func (s *Scope) Op() *op.Scope { return s.s.SubScope("op") }

// Tensor starts a tfgo Tensor chain on x under a new op scope, for element-wise arithmetic that reads
// left to right: s.Tensor(x).Mul(m).Add(b).Output. The chain's methods modify the Tensor in place, so a
// Tensor used twice must be Cloned first; the chain panics on a construction error, which Catch turns
// into an error. The Tensor is made here rather than by tg.NewTensor, whose scope comes from tfgo's
// process-wide counter (see Op); Clone still uses that counter, so graph code does not call it.
func (s *Scope) Tensor(x tf.Output) *tg.Tensor {
	sc := s.Op()
	return &tg.Tensor{Root: sc, Path: sc, Output: op.Identity(sc.SubScope("Identity"), x)}
}

// Graph is the graph this scope builds.
func (s *Scope) Graph() *Graph { return s.g }

// Path is the variable path of this scope.
func (s *Scope) Path() string { return s.path }

// Training reports whether layers built here use batch statistics (training mode).
func (s *Scope) Training() bool { return s.training }

// Fail records a construction error for this scope; the graph reports the first one.
func (s *Scope) Fail(err error) {
	if err != nil {
		s.s.UpdateErr(s.path, err)
	}
}

// Const is a constant of the graph's floating type.
func (s *Scope) Const(v float64) tf.Output {
	return op.Cast(s.Op(), op.Const(s.Op(), v), s.g.dtype)
}

// AddUpdate registers an op that must run with every training step of this head (moving averages).
func (s *Scope) AddUpdate(o *tf.Operation) {
	if o != nil {
		s.head.updates = append(s.head.updates, o)
	}
}

// StepSeed is the head's int64 [2] seed placeholder (default [0, 0]) for stateless random layers such as
// dropout. A trainer feeds a value derived from (run seed, step), so a resumed run draws the same masks.
func (s *Scope) StepSeed() tf.Output {
	if s.head.seed.Op == nil {
		sc := s.g.root.SubScope(s.head.name + "_seed")
		s.head.seed = op.PlaceholderWithDefault(sc, op.Const(sc.SubScope("default"), []int64{0, 0}), tf.MakeShape(2))
	}
	return s.head.seed
}

// HasStepSeed reports whether any layer of the head uses StepSeed.
func (s *Scope) HasStepSeed() bool { return s.head.seed.Op != nil }

// Updates returns the ops that a training step of this head must run.
func (s *Scope) Updates() []*tf.Operation { return append([]*tf.Operation(nil), s.head.updates...) }

// Catch runs build and turns a panic from the TensorFlow bindings or tfgo into an error naming what was
// being built, so no user sees a panic trace. It is the one boundary between graph code and its callers:
// tfgo's Tensor methods panic on the first construction error of their scope (Tensor.Check), and the
// layers of this package are written straight through, so every build of a model goes through Catch.
// It also returns the graph's first construction error.
func Catch(what string, g *Graph, build func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// A panic in the bindings usually follows an op that failed to build: report that op.
			if gerr := g.Err(); gerr != nil {
				err = fmt.Errorf("build %s: %w", what, gerr)
			} else {
				err = fmt.Errorf("build %s: %v", what, r)
			}
		}
	}()
	if err := build(); err != nil {
		return fmt.Errorf("build %s: %w", what, err)
	}
	if err := g.Err(); err != nil {
		return fmt.Errorf("build %s: %w", what, err)
	}
	return nil
}

// cleanErr keeps what a user needs of a TensorFlow error: it drops the Go stack trace that op.Scope
// appends to construction errors (the message names the op) and the advice lines TensorFlow appends to
// failed runs ("Hint: If you want to see a list of allocated tensors when OOM happens..."), which
// mislead when the cause is, for example, a full disk.
func cleanErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if i := strings.Index(msg, " (Stacktrace:"); i >= 0 {
		msg = msg[:i]
	}
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "Hint:") {
			kept = append(kept, l)
		}
	}
	return errors.New(strings.TrimRight(strings.Join(kept, "\n"), "\n "))
}

// seedFor derives a per-variable seed from the graph seed and the variable's name, so initial values do
// not depend on the order in which variables are created.
func (g *Graph) seedFor(name string) [2]int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return [2]int64{g.seed, int64(h.Sum64() >> 1)}
}
