package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
)

// KerasVariant is the pseudo-variant of a ProfileSpec that profiles Keras's ResNet50
// (bench/keras_train.py) beside the Go graphs, so that the op types where the Go step loses time
// against Keras's show up in the same table.
const KerasVariant = "keras"

// ProfileSpec is a per-op profile of the training step (or the inference head) of attention
// variants, through TensorFlow's step statistics (ops.RunWithStats), and of Keras's ResNet50
// (KerasVariant) through TensorFlow's profiler.
type ProfileSpec struct {
	// Variants are attention variants and KerasVariant; the first is the one the others are
	// compared with.
	Variants  []string `json:"variants"`
	Depth     int      `json:"depth"`
	ImageSize int      `json:"image_size"`
	Batch     int      `json:"batch"`
	Classes   int      `json:"classes"`
	Steps     int      `json:"steps"` // traced steps, after a first and a warm-up step
	// Inference profiles the inference head alone (the forward pass on the fixed batch, batch norm
	// with its moving statistics) instead of the training step.
	Inference bool     `json:"inference"`
	Settings  Settings `json:"settings"`
	// Top is how many of the longest nodes each variant lists (0: none).
	Top int `json:"top"`
	// Python (with TensorFlow) runs KerasScript, the path of bench/keras_train.py, for KerasVariant.
	// They name this machine's files, so they stay out of the recorded results.
	Python      string `json:"-"`
	KerasScript string `json:"-"`
}

func (s ProfileSpec) validate() error {
	if len(s.Variants) == 0 || s.Steps < 1 || s.Top < 0 {
		return fmt.Errorf("profile %+v: want at least one variant, one step and top >= 0", s)
	}
	seen := map[string]bool{}
	for _, v := range s.Variants {
		if seen[v] {
			return fmt.Errorf("profile: variant %q named twice", v)
		}
		seen[v] = true
	}
	if seen[KerasVariant] && s.Depth != 50 {
		return fmt.Errorf("profile: variant %s is Keras's ResNet50, but depth is %d: want 50", KerasVariant, s.Depth)
	}
	return nil
}

// goVariants is s with the Go variants alone, in their order.
func (s ProfileSpec) goVariants() ProfileSpec {
	s.Variants = slices.DeleteFunc(slices.Clone(s.Variants), func(v string) bool { return v == KerasVariant })
	return s
}

// kerasCommand is the Keras script profiling s's step: a first step and one timed step untraced, as
// the Go profile runs a first and a warm-up step, then s.Steps traced ones.
func (s ProfileSpec) kerasCommand() (Command, error) {
	if s.KerasScript == "" {
		return Command{}, fmt.Errorf("profile %s: no path to %s", KerasVariant, KerasScript)
	}
	args := kerasArgs(TrainSpec{Batch: s.Batch, ImageSize: s.ImageSize, Classes: s.Classes, Steps: 1}, s.Settings.XLA, s.Settings)
	args = append(args, "--profile-steps", strconv.Itoa(s.Steps))
	if s.Inference {
		args = append(args, "--profile-inference")
	}
	c, err := pythonCommand(s.Python, s.KerasScript, Settings{OneDNN: s.Settings.OneDNN}.Env(), args...)
	if err != nil {
		return Command{}, fmt.Errorf("profile %s: %w", KerasVariant, err)
	}
	return c, nil
}

// trainSpec is the benchmark's training spec of one variant of s.
func (s ProfileSpec) trainSpec(variant string) TrainSpec {
	return TrainSpec{Attention: variant, Depth: s.Depth, ImageSize: s.ImageSize, Batch: s.Batch, Classes: s.Classes,
		Warmup: 1, Steps: s.Steps, Settings: s.Settings}
}

// Profile is what a ProfileSpec measured.
type Profile struct {
	Spec     ProfileSpec      `json:"spec"`
	Variants []VariantProfile `json:"variants"`
}

// VariantProfile is one variant's traced steps, reduced to medians over the steps.
type VariantProfile struct {
	Attention string `json:"attention"`
	// SumMs is the median over the steps of the sum of the nodes' wall times, SpanMs the median step
	// span (last node's end less first node's start). Nodes overlap on several threads, so SumMs
	// exceeds SpanMs and the shares below are of SumMs.
	SumMs  float64       `json:"sum_ms"`
	SpanMs float64       `json:"span_ms"`
	Ops    []OpProfile   `json:"ops"` // largest MedianMs first
	Top    []NodeProfile `json:"top"` // longest nodes, longest first
}

// OpProfile is the node time of one op type (the kernel that ran, see ops.NodeStat.Type).
type OpProfile struct {
	Op       string  `json:"op"`
	MedianMs float64 `json:"median_ms"` // median over the steps of the op type's summed node time
	Share    float64 `json:"share"`     // MedianMs over the sum of every op type's MedianMs
	Nodes    int     `json:"nodes"`     // nodes of the type in a step (the largest count of the steps)
}

// NodeProfile is one node's median wall time over the steps.
type NodeProfile struct {
	Name     string  `json:"name"`
	Kernel   string  `json:"kernel"`
	GraphOp  string  `json:"graph_op,omitempty"`
	MedianMs float64 `json:"median_ms"`
}

// RunProfile builds each variant's training graph as the training benchmark does (newTrainStepper:
// train.BuildGraph and AddOptimizer, the step the trainer runs), runs a first and a warm-up step
// untraced, then traces spec.Steps steps. The variants run one after another, each session closed
// before the next is built, so that a 224-pixel profile of two variants needs the memory of one.
// KerasVariant runs spec.KerasScript with spec.Python in a process of its own.
func RunProfile(ctx context.Context, spec ProfileSpec) (*Profile, error) {
	return profileWith(ctx, spec, RunJSON, runGoProfile)
}

// profileWith profiles spec's Go variants with goProfile, in one call, and KerasVariant with exec,
// and returns them in spec's order. The runner passes its worker process and its Exec; RunProfile
// runs the Go variants in this process.
func profileWith(ctx context.Context, spec ProfileSpec, exec Exec, goProfile func(context.Context, ProfileSpec) (*Profile, error)) (*Profile, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	byName := map[string]VariantProfile{}
	if g := spec.goVariants(); len(g.Variants) > 0 {
		gp, err := goProfile(ctx, g)
		if err != nil {
			return nil, err
		}
		for _, v := range gp.Variants {
			byName[v.Attention] = v
		}
	}
	if slices.Contains(spec.Variants, KerasVariant) {
		kp, err := profileKeras(ctx, spec, exec)
		if err != nil {
			return nil, err
		}
		byName[KerasVariant] = *kp
	}
	p := &Profile{Spec: spec}
	for _, v := range spec.Variants {
		vp, ok := byName[v]
		if !ok {
			return nil, fmt.Errorf("profile: variant %s missing from the profile's results", v)
		}
		p.Variants = append(p.Variants, vp)
	}
	return p, nil
}

// runGoProfile profiles spec's variants, Go variants all, in this process.
func runGoProfile(ctx context.Context, spec ProfileSpec) (*Profile, error) {
	p := &Profile{Spec: spec}
	for _, v := range spec.Variants {
		vp, err := profileVariant(ctx, spec, v)
		if err != nil {
			return nil, err
		}
		p.Variants = append(p.Variants, *vp)
	}
	return p, nil
}

// profileKeras runs the Keras script with --profile-steps through exec and reduces its traced steps
// as a Go variant's.
func profileKeras(ctx context.Context, spec ProfileSpec, exec Exec) (*VariantProfile, error) {
	c, err := spec.kerasCommand()
	if err != nil {
		return nil, err
	}
	var out kerasProfileOutput
	if err := exec(ctx, c, &out); err != nil {
		return nil, fmt.Errorf("profile %s: %w", KerasVariant, err)
	}
	steps, err := out.stepStats(spec.Steps, spec.Inference)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %s: %w", KerasVariant, spec.KerasScript, err)
	}
	return reduceSteps(KerasVariant, steps, spec.Top), nil
}

// kerasProfileOutput is the part of bench/keras_train.py's JSON that --profile-steps adds: the nodes
// of each traced step as TensorFlow's profiler recorded them on the host's compute threads. The
// fields a node needs are pointers so that a missing one is told from a zero.
type kerasProfileOutput struct {
	Profile *struct {
		Inference *bool `json:"inference"`
		Steps     []struct {
			SpanUs *float64 `json:"span_us"`
			Nodes  []struct {
				Name    string   `json:"name"`
				Op      string   `json:"op"`
				StartUs *float64 `json:"start_us"`
				WallUs  *float64 `json:"wall_us"`
			} `json:"nodes"`
		} `json:"steps"`
	} `json:"profile"`
}

// stepStats converts the script's profile into step statistics, the op type after the colon of a
// trace event's name becoming the node's kernel; it wants steps traced steps of the inference head or
// the training step as inference says. An error names the field at fault.
func (o kerasProfileOutput) stepStats(steps int, inference bool) ([]*ops.StepStats, error) {
	p := o.Profile
	switch {
	case p == nil:
		return nil, fmt.Errorf(`no "profile" key: the script ran without --profile-steps`)
	case p.Inference == nil:
		return nil, fmt.Errorf(`profile.inference missing`)
	case *p.Inference != inference:
		return nil, fmt.Errorf("profile.inference is %v, want %v", *p.Inference, inference)
	case len(p.Steps) != steps:
		return nil, fmt.Errorf("profile.steps has %d steps, want %d", len(p.Steps), steps)
	}
	out := make([]*ops.StepStats, len(p.Steps))
	for i, s := range p.Steps {
		span, err := micros(s.SpanUs, fmt.Sprintf("profile.steps[%d].span_us", i))
		if err != nil {
			return nil, err
		}
		if len(s.Nodes) == 0 {
			return nil, fmt.Errorf("profile.steps[%d].nodes is empty", i)
		}
		st := &ops.StepStats{Span: span, Nodes: make([]ops.NodeStat, len(s.Nodes))}
		for j, n := range s.Nodes {
			at := fmt.Sprintf("profile.steps[%d].nodes[%d]", i, j)
			if n.Name == "" || n.Op == "" {
				return nil, fmt.Errorf("%s: name %q, op %q: want both", at, n.Name, n.Op)
			}
			start, err := micros(n.StartUs, at+".start_us")
			if err != nil {
				return nil, err
			}
			wall, err := micros(n.WallUs, at+".wall_us")
			if err != nil {
				return nil, err
			}
			st.Nodes[j] = ops.NodeStat{Name: n.Name, Kernel: n.Op, Device: "/host:CPU", Start: start, Wall: wall}
		}
		out[i] = st
	}
	return out, nil
}

// micros is a duration in microseconds, which must be present, finite and not negative.
func micros(us *float64, field string) (time.Duration, error) {
	if us == nil {
		return 0, fmt.Errorf("%s missing", field)
	}
	if math.IsNaN(*us) || math.IsInf(*us, 0) || *us < 0 || *us > float64(math.MaxInt64/int64(time.Microsecond)) {
		return 0, fmt.Errorf("%s is %v: want a duration in microseconds, 0 or more", field, *us)
	}
	return time.Duration(math.Round(*us * float64(time.Microsecond))), nil
}

func profileVariant(ctx context.Context, spec ProfileSpec, variant string) (*VariantProfile, error) {
	st, err := newTrainStepper(spec.trainSpec(variant))
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", variant, err)
	}
	defer st.sess.Close()
	feeds := st.feeds
	fetches, targets := st.runArgs()
	if spec.Inference {
		feeds = map[tf.Output]*tf.Tensor{st.tg.Images: st.feeds[st.tg.Images]}
		fetches, targets = []tf.Output{st.tg.Logits}, nil
	}
	for i := range 2 { // the first step and one warm-up step, untraced
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := st.sess.Run(feeds, fetches, targets); err != nil {
			return nil, fmt.Errorf("profile %s: untraced step %d: %w", variant, i+1, err)
		}
	}
	steps := make([]*ops.StepStats, spec.Steps)
	for i := range steps {
		if _, steps[i], err = ops.RunWithStats(ctx, st.sess, st.tg.G.TF(), feeds, fetches, targets); err != nil {
			return nil, fmt.Errorf("profile %s: traced step %d: %w", variant, i+1, err)
		}
	}
	return reduceSteps(variant, steps, spec.Top), nil
}

// reduceSteps takes the medians over the steps: per op type (0 in a step where the type did not
// run), per node, and of the sums and spans.
func reduceSteps(variant string, steps []*ops.StepStats, top int) *VariantProfile {
	vp := &VariantProfile{Attention: variant}
	var sums, spans []float64
	opMs := map[string][]float64{}
	opNodes := map[string]int{}
	nodeMs := map[string][]float64{}
	nodeOf := map[string]NodeProfile{}
	for _, st := range steps {
		sums = append(sums, ms(st.Sum()))
		spans = append(spans, ms(st.Span))
		for _, o := range st.ByOp() {
			opMs[o.Op] = append(opMs[o.Op], ms(o.Total))
			opNodes[o.Op] = max(opNodes[o.Op], o.Count)
		}
		for _, n := range st.Nodes {
			nodeMs[n.Name] = append(nodeMs[n.Name], ms(n.Wall))
			nodeOf[n.Name] = NodeProfile{Name: n.Name, Kernel: n.Type(), GraphOp: n.GraphOp}
		}
	}
	vp.SumMs, vp.SpanMs = median(sums), median(spans)
	var total float64
	for op, v := range opMs {
		m := median(padZeros(v, len(steps)))
		vp.Ops = append(vp.Ops, OpProfile{Op: op, MedianMs: m, Nodes: opNodes[op]})
		total += m
	}
	for i := range vp.Ops {
		if total > 0 {
			vp.Ops[i].Share = vp.Ops[i].MedianMs / total
		}
	}
	slices.SortFunc(vp.Ops, func(a, b OpProfile) int { return cmp.Or(cmp.Compare(b.MedianMs, a.MedianMs), cmp.Compare(a.Op, b.Op)) })
	var nodes []NodeProfile
	for name, v := range nodeMs {
		n := nodeOf[name]
		n.MedianMs = median(padZeros(v, len(steps)))
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b NodeProfile) int {
		return cmp.Or(cmp.Compare(b.MedianMs, a.MedianMs), cmp.Compare(a.Name, b.Name))
	})
	vp.Top = nodes[:min(top, len(nodes))]
	return vp
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// padZeros appends zeros up to n values: a step in which something did not run counts it as 0.
func padZeros(v []float64, n int) []float64 {
	for len(v) < n {
		v = append(v, 0)
	}
	return v
}

// Markdown renders the profile: one table of op types with the variants side by side (and, past
// the first variant, the difference to it, which is what that variant's extra ops and larger ops
// cost), then each variant's longest nodes.
func (p *Profile) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	s := p.Spec
	what := "training step (forward, backward, optimiser)"
	if s.Inference {
		what = "inference head (forward)"
	}
	w("### Per-op profile of the %s, ResNet-%d, %d×%d, batch %d, median of %d traced steps (%s)\n\n",
		what, s.Depth, s.ImageSize, s.ImageSize, s.Batch, s.Steps, s.Settings)
	w("Node time is the sum of the nodes' wall times in a step; nodes overlap on several threads, so it exceeds the step's span (first start to last end).\n\n")
	if len(p.Variants) == 0 {
		return b.String()
	}
	base := p.Variants[0]
	w("| Op type |")
	sep := "|---|"
	for i, v := range p.Variants {
		w(" `%s` ms | share | nodes |", v.Attention)
		sep += "---:|---:|---:|"
		if i > 0 {
			w(" `%s` − `%s` ms |", v.Attention, base.Attention)
			sep += "---:|"
		}
	}
	w("\n%s\n", sep)
	byOp := make([]map[string]OpProfile, len(p.Variants))
	for i, v := range p.Variants {
		byOp[i] = map[string]OpProfile{}
		for _, o := range v.Ops {
			byOp[i][o.Op] = o
		}
	}
	for _, op := range p.opOrder() {
		w("| %s |", op)
		for i := range p.Variants {
			o := byOp[i][op]
			w(" %.2f | %.1f%% | %d |", o.MedianMs, 100*o.Share, o.Nodes)
			if i > 0 {
				w(" %+.2f |", o.MedianMs-byOp[0][op].MedianMs)
			}
		}
		w("\n")
	}
	for _, row := range []struct {
		label string
		get   func(VariantProfile) float64
	}{{"**node time**", func(v VariantProfile) float64 { return v.SumMs }}, {"**step span**", func(v VariantProfile) float64 { return v.SpanMs }}} {
		w("| %s |", row.label)
		for i, v := range p.Variants {
			w(" %.2f | | |", row.get(v))
			if i > 0 {
				w(" %+.2f (%+.1f%%) |", row.get(v)-row.get(base), 100*(row.get(v)/row.get(base)-1))
			}
		}
		w("\n")
	}
	for _, v := range p.Variants {
		if len(v.Top) == 0 {
			continue
		}
		w("\n`%s`: the %d longest nodes\n\n| Node | Kernel | Graph op | ms |\n|---|---|---|---:|\n", v.Attention, len(v.Top))
		for _, n := range v.Top {
			w("| %s | %s | %s | %.2f |\n", n.Name, n.Kernel, n.GraphOp, n.MedianMs)
		}
	}
	return b.String()
}

// opOrder is every variant's op types, the first variant's largest first, then the types the first
// variant lacks by their largest time in another.
func (p *Profile) opOrder() []string {
	seen := map[string]bool{}
	var order []string
	for _, o := range p.Variants[0].Ops {
		seen[o.Op] = true
		order = append(order, o.Op)
	}
	rest := map[string]float64{}
	for _, v := range p.Variants[1:] {
		for _, o := range v.Ops {
			if !seen[o.Op] {
				rest[o.Op] = max(rest[o.Op], o.MedianMs)
			}
		}
	}
	var extra []string
	for op := range rest {
		extra = append(extra, op)
	}
	slices.SortFunc(extra, func(a, b string) int { return cmp.Or(cmp.Compare(rest[b], rest[a]), cmp.Compare(a, b)) })
	return append(order, extra...)
}
