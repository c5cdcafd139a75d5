package nets

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/weights"
)

// ImportOptions relax or tighten an import. The zero value is the strict import of model.pretrained:
// every backbone variable must load and every tensor of the file must be used, except the classifier
// when its class count differs from the model's (fine-tuning to another label set) and BN's
// num_batches_tracked counters; attention gates start fresh unless the file carries them.
type ImportOptions struct {
	// Partial accepts what strict refuses (model.pretrained_strict: false): backbone variables the file
	// lacks or holds at another shape stay initialised, and tensors no variable takes are left unused.
	// The report lists each of these under Problems. An import that loads nothing is still an error.
	Partial bool
	// KeepClassifier requires the classifier to load from the file: a class count that differs from
	// the model's, or a file without a classifier, is an error (exporting a pretrained model as is).
	KeepClassifier bool
}

// ImportReport says what an import did, by name: graph variables assigned from the file (Loaded) and
// left at their initial values (Initialised: attention gates, a classifier of another size, and with a
// partial import anything the file lacked), the file's tensors that no variable took (Unused) and those
// skipped by rule (Skipped: BN's num_batches_tracked counters, which have no counterpart). Problems are
// what a strict import refuses; Notes say in words why variables start fresh.
type ImportReport struct {
	File        string   `json:"file"`
	Format      string   `json:"format"`
	SHA256      string   `json:"sha256"`
	Wrapper     string   `json:"wrapper,omitempty"`
	Prefix      string   `json:"stripped_prefix,omitempty"`
	Strict      bool     `json:"strict"`
	Loaded      []string `json:"loaded"`
	Initialised []string `json:"initialised"`
	Unused      []string `json:"unused"`
	Skipped     []string `json:"skipped"`
	Problems    []string `json:"problems,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// String is the report as one log line, naming at most a few variables of each list.
func (r ImportReport) String() string {
	s := fmt.Sprintf("loaded %d variables; initialised %d: %s; unused tensors %d: %s",
		len(r.Loaded), len(r.Initialised), abbreviate(r.Initialised, 8), len(r.Unused), abbreviate(r.Unused, 4))
	if len(r.Problems) > 0 {
		s += fmt.Sprintf("; partial load accepted with %d problems: %s", len(r.Problems), abbreviate(r.Problems, 3))
	}
	return s
}

func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return "[" + strings.Join(names, " ") + "]"
	}
	return fmt.Sprintf("[%s ... and %d more]", strings.Join(names[:n], " "), len(names)-n)
}

// VarSpec is a graph variable as an import sees it: its path and shape.
type VarSpec struct {
	Name  string
	Shape []int64
}

// VarSpecs lists the graph's variables, in creation order.
func VarSpecs(g *ops.Graph) []VarSpec {
	var out []VarSpec
	for _, v := range g.Variables() {
		out = append(out, VarSpec{v.Name, v.Shape})
	}
	return out
}

// Mapping is one variable filled from one tensor of the file.
type Mapping struct {
	Variable string `json:"variable"`
	Tensor   string `json:"tensor"`
	// Convert is the layout change: "OIHW→HWIO" (convolutions), "[out,in]→[in,out]" (dense layers),
	// "[out,in]→[1,1,in,out]" (fcn's 1×1-convolution classifier) or "" (copied as is).
	Convert string `json:"convert,omitempty"`
	kind    string
}

// ImportPlan is what an import of a file into a set of variables does, decided before anything is
// assigned: the mappings, and the report the import will give.
type ImportPlan struct {
	Assign []Mapping
	Report ImportReport
	// Diagnosis says what probably happened when there are problems ("" without).
	Diagnosis string
}

// The layout conversions of Mapping.kind.
const (
	kindCopy = ""
	kindConv = "conv" // OIHW → HWIO
	kindFC   = "fc"   // [out, in] → [in, out]
	kindFC4  = "fc4"  // [out, in] → [1, 1, in, out]
)

var convertNames = map[string]string{kindConv: "OIHW→HWIO", kindFC: "[out,in]→[in,out]", kindFC4: "[out,in]→[1,1,in,out]"}

// TorchName is the torchvision state-dict name of a graph variable (conv1/kernel → conv1.weight,
// layer2/0/downsample/1/moving_variance → layer2.0.downsample.1.running_var, fc/bias → fc.bias); gate
// variables get the same treatment (layer3/2/ca/fc1/kernel → layer3.2.ca.fc1.weight), which are the
// extra names of an exported gated model. ok is false for a variable of no known parameter kind.
func TorchName(variable string) (string, bool) {
	i := strings.LastIndexByte(variable, '/')
	if i < 0 {
		return "", false
	}
	module, param := strings.ReplaceAll(variable[:i], "/", "."), variable[i+1:]
	switch param {
	case "kernel", "gamma":
		param = "weight"
	case "bias", "beta":
		param = "bias"
	case "moving_mean":
		param = "running_mean"
	case "moving_variance":
		param = "running_var"
	default:
		return "", false
	}
	return module + "." + param, true
}

// conversion is the layout change from a torch tensor to the variable v.
func conversion(v VarSpec) string {
	if !strings.HasSuffix(v.Name, "/kernel") {
		return kindCopy
	}
	switch {
	case len(v.Shape) == 4 && v.Name == "fc/kernel":
		return kindFC4
	case len(v.Shape) == 4:
		return kindConv
	case len(v.Shape) == 2:
		return kindFC
	}
	return kindCopy
}

// torchShape is the shape a variable of the given conversion has in PyTorch's layout.
func torchShape(varShape []int64, kind string) []int64 {
	s := varShape
	switch kind {
	case kindConv: // HWIO → OIHW
		return []int64{s[3], s[2], s[0], s[1]}
	case kindFC:
		return []int64{s[1], s[0]}
	case kindFC4:
		return []int64{s[3], s[2]}
	}
	return slices.Clone(s)
}

// variable roles
const (
	roleBackbone   = "backbone"
	roleClassifier = "classifier"
	roleGate       = "gate"
)

func role(variable string) string {
	if strings.HasPrefix(variable, "fc/") {
		return roleClassifier
	}
	for _, part := range strings.Split(variable, "/") {
		if isGateScope(part) {
			return roleGate
		}
	}
	return roleBackbone
}

// isGateTensor reports whether a torch name lies under an attention gate.
func isGateTensor(name string) bool {
	for _, part := range strings.Split(name, ".") {
		if isGateScope(part) {
			return true
		}
	}
	return false
}

// isGateScope reports whether a part of a variable's path (or of a torch name) is a gate's scope: a
// block's gate lives under the name of its variant (resnet.go's gating).
func isGateScope(part string) bool { return Attention(part).Gated() }

// PlanImport decides how the tensors of f fill vars under opt. With problems that opt does not accept
// the error says what they are and what probably happened; the plan is returned either way, so a tool
// can show it.
func PlanImport(vars []VarSpec, f *weights.File, opt ImportOptions) (*ImportPlan, error) {
	p := &ImportPlan{Report: ImportReport{
		File: f.Path, Format: f.Format, SHA256: f.SHA256, Wrapper: f.Wrapper, Prefix: f.Prefix, Strict: !opt.Partial,
		Loaded: []string{}, Initialised: []string{}, Unused: []string{}, Skipped: []string{},
	}}
	rep := &p.Report
	used := map[string]bool{}
	var gatesFresh int
	var classifierNote string
	for _, v := range vars {
		name, ok := TorchName(v.Name)
		t := f.Tensors[name]
		if !ok {
			t = nil
		}
		r := role(v.Name)
		kind := conversion(v)
		want := torchShape(v.Shape, kind)
		fresh := func(problem string) {
			rep.Initialised = append(rep.Initialised, v.Name)
			if problem != "" {
				rep.Problems = append(rep.Problems, problem)
			}
		}
		switch {
		case t == nil && r == roleGate:
			gatesFresh++
			fresh("")
		case t == nil && r == roleClassifier && !opt.KeepClassifier:
			classifierNote = "the file has no classifier (fc.weight, fc.bias): the model's starts fresh"
			fresh("")
		case t == nil:
			fresh(fmt.Sprintf("missing: %s (for %s %v)", name, v.Name, v.Shape))
		case !t.IsFloat():
			used[name] = true
			fresh(fmt.Sprintf("dtype: %s is %s, not a floating type (for %s)", name, t.DType, v.Name))
		case slices.Equal(t.Shape, want):
			used[name] = true
			p.Assign = append(p.Assign, Mapping{Variable: v.Name, Tensor: name, Convert: convertNames[kind], kind: kind})
			rep.Loaded = append(rep.Loaded, v.Name)
		case r == roleClassifier && classifierResized(t.Shape, want) && !opt.KeepClassifier:
			classifierNote = fmt.Sprintf("the file's classifier has %d classes and the model's %d: the classifier starts fresh", t.Shape[0], want[0])
			fresh("")
		default:
			used[name] = true
			fresh(fmt.Sprintf("shape: %s is %v, %s wants %v (PyTorch layout of %v)", name, t.Shape, v.Name, want, v.Shape))
		}
	}
	for _, n := range f.Names() {
		switch {
		case used[n]:
		case strings.HasSuffix(n, ".num_batches_tracked"):
			rep.Skipped = append(rep.Skipped, n)
		default:
			rep.Unused = append(rep.Unused, n)
			if !(classifierNote != "" && (n == "fc.weight" || n == "fc.bias")) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("unused: %s %v fits no variable of the model", n, f.Tensors[n].Shape))
			}
		}
	}
	if classifierNote != "" {
		rep.Notes = append(rep.Notes, classifierNote)
	}
	if gatesFresh > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d attention-gate variables start fresh (new layers; the file has none)", gatesFresh))
	}
	if len(rep.Problems) > 0 {
		p.Diagnosis = diagnose(vars, f, rep)
	}
	switch {
	case len(p.Assign) == 0:
		return p, fmt.Errorf("import %s: no tensor of the file fits the model (%d tensors, %d variables); probably: %s", f.Path, len(f.Tensors), len(vars), p.Diagnosis)
	case len(rep.Problems) > 0 && !opt.Partial:
		var b strings.Builder
		fmt.Fprintf(&b, "import %s: strict import refused: %d problems; probably: %s", f.Path, len(rep.Problems), p.Diagnosis)
		for i, pr := range rep.Problems {
			if i == 10 {
				fmt.Fprintf(&b, "\n  ... and %d more", len(rep.Problems)-10)
				break
			}
			b.WriteString("\n  " + pr)
		}
		b.WriteString("\nTo accept a partial load knowingly, set model.pretrained_strict: false (the run's pretrained.json then lists what was left out).")
		return p, fmt.Errorf("%s", b.String())
	}
	return p, nil
}

// classifierResized reports whether a torch fc tensor differs from the wanted (PyTorch-layout) shape
// only in the number of classes.
func classifierResized(src, want []int64) bool {
	switch {
	case len(src) == 2 && len(want) == 2: // weight [out, in]
		return src[1] == want[1] && src[0] != want[0]
	case len(src) == 1 && len(want) == 1: // bias
		return src[0] != want[0]
	}
	return false
}

// layout is the block structure of a torchvision-style ResNet's state dict.
type layout struct {
	bottleneck bool
	blocks     [4]int
	ok         bool
}

// resnetLayout reads the block structure from torch names (layerS.B.convK.weight).
func resnetLayout(names []string) layout {
	var l layout
	for _, n := range names {
		var s, b, c int
		if _, err := fmt.Sscanf(n, "layer%d.%d.conv%d.weight", &s, &b, &c); err != nil || s < 1 || s > 4 {
			continue
		}
		l.ok = true
		l.blocks[s-1] = max(l.blocks[s-1], b+1)
		if c == 3 {
			l.bottleneck = true
		}
	}
	return l
}

func (l layout) String() string {
	for _, d := range []int{18, 34, 50, 101} {
		a := depthTable[d]
		if a.bottleneck == l.bottleneck && a.blocks == l.blocks {
			return fmt.Sprintf("ResNet-%d", d)
		}
	}
	if l.bottleneck && l.blocks == [4]int{3, 8, 36, 3} {
		return "ResNet-152"
	}
	kind := "basic"
	if l.bottleneck {
		kind = "bottleneck"
	}
	return fmt.Sprintf("ResNet with %s blocks %v", kind, l.blocks)
}

// diagnose says in words what the problems of an import probably come from.
func diagnose(vars []VarSpec, f *weights.File, rep *ImportReport) string {
	names := f.Names()
	expected := map[string]bool{}
	var torchNames []string
	for _, v := range vars {
		if n, ok := TorchName(v.Name); ok {
			expected[n] = true
			torchNames = append(torchNames, n)
		}
	}
	var why []string
	// Every name under a prefix that, stripped, gives the model's names.
	prefixes := map[string]int{}
	for _, n := range names {
		if expected[n] {
			continue
		}
		for i := 0; i < len(n); i++ {
			if n[i] == '.' && expected[n[i+1:]] {
				prefixes[n[:i+1]]++
				break
			}
		}
	}
	best, count := "", 0
	for p, c := range prefixes {
		if c > count || (c == count && p < best) {
			best, count = p, c
		}
	}
	if count > 0 && count >= len(rep.Loaded) {
		why = append(why, fmt.Sprintf("the file's names carry the prefix %q (%d tensors, e.g. %sconv1.weight): strip it with go run ./cmd/weights convert -strip-prefix %s %s OUT.safetensors", best, count, best, best, displayPath(f.Path)))
	}
	if _, deep := f.Tensors["conv1.0.weight"]; deep {
		why = append(why, "the file's stem is a deep stem (conv1.0, conv1.3, conv1.6: timm's resnet*c/resnet*d and similar), not torchvision's single 7×7 conv1: use weights of torchvision's layout (go run ./cmd/weights list)")
	}
	fl, ml := resnetLayout(names), resnetLayout(torchNames)
	if fl.ok && ml.ok && (fl.blocks != ml.blocks || fl.bottleneck != ml.bottleneck) {
		msg := fmt.Sprintf("wrong depth: the file holds a %s and the model is a %s", fl, ml)
		for _, d := range []int{18, 34, 50, 101} {
			if a := depthTable[d]; a.blocks == fl.blocks && a.bottleneck == fl.bottleneck {
				msg += fmt.Sprintf(": set model.depth: %d, or use weights of the model's depth (go run ./cmd/weights list)", d)
			}
		}
		why = append(why, msg)
	}
	var gates []string
	for _, n := range rep.Unused {
		if isGateTensor(n) {
			gates = append(gates, n)
		}
	}
	if len(gates) > 0 {
		why = append(why, fmt.Sprintf("the file carries attention-gate weights the model lacks (%s): it was exported from a model with another model.attention or model.attention_stages", abbreviate(gates, 2)))
	}
	classifierOnly := len(rep.Problems) > 0
	for _, pr := range rep.Problems {
		if !strings.HasPrefix(pr, "shape: fc.") {
			classifierOnly = false
		}
	}
	if len(why) == 0 && classifierOnly {
		why = append(why, "only the classifier differs (the file's class count is not the model's): give the model the file's number of classes (model.num_classes, or as many -labels), or start the classifier fresh (cmd/export -fresh-head; training starts a new classifier by itself)")
	}
	if len(why) == 0 {
		shapes := 0
		for _, pr := range rep.Problems {
			if strings.HasPrefix(pr, "shape:") {
				shapes++
			}
		}
		switch {
		case shapes > 0 && fl.ok && fl == ml:
			why = append(why, "the same block structure at other channel widths: model.width_multiplier must be 1, and Wide ResNets and ResNeXts (grouped convolutions) are other networks")
		case !fl.ok:
			why = append(why, "the file is not a ResNet state dict in torchvision's naming (no layerN.B.convK.weight tensors)")
		default:
			why = append(why, "the file is not a torchvision-layout ResNet matching the model")
		}
	}
	return strings.Join(why, "; ")
}

// displayPath is path, or a placeholder when the file has none.
func displayPath(path string) string {
	if path == "" {
		return "IN"
	}
	return path
}

// Import reads a weights file (torchvision-named .pth, .bin or .safetensors; see package weights) and
// assigns it to the graph's variables under opt (see ImportFile).
func Import(sess *tf.Session, g *ops.Graph, path string, opt ImportOptions) (ImportReport, error) {
	f, err := weights.Read(path)
	if err != nil {
		return ImportReport{File: path}, err
	}
	return ImportFile(sess, g, f, opt)
}

// ImportFile assigns the tensors of f (torchvision's state-dict names: conv1.weight, bn1.running_var,
// layer1.0.conv2.weight, layer2.0.downsample.1.weight, fc.weight, ...) to the graph's variables
// (conv1/kernel, bn1/moving_variance, ...), converting convolution kernels from OIHW to HWIO and the
// classifier from [out, in] to [in, out] (or to fcn's [1, 1, in, out]); F32, F16, BF16 and F64 data
// load into the graph's type. Run it after the graph's InitOp and before optimiser slots exist: every
// variable of the graph counts as the model's. The plan decides (PlanImport); nothing is assigned
// when it refuses. The report is also logged as one line.
func ImportFile(sess *tf.Session, g *ops.Graph, f *weights.File, opt ImportOptions) (ImportReport, error) {
	p, err := PlanImport(VarSpecs(g), f, opt)
	if err != nil {
		return p.Report, err
	}
	feeds := map[tf.Output]*tf.Tensor{}
	var targets []*tf.Operation
	for _, m := range p.Assign {
		v := g.Lookup(m.Variable)
		t := f.Tensors[m.Tensor]
		vals, err := t.Float32s()
		if err != nil {
			return p.Report, fmt.Errorf("import %s: tensor %s: %w", f.Path, m.Tensor, err)
		}
		switch m.kind {
		case kindConv:
			vals = oihwToHWIO(vals, t.Shape)
		case kindFC, kindFC4:
			vals = transpose2D(vals, t.Shape[0], t.Shape[1])
		}
		tensor, err := feedTensor(vals, v)
		if err != nil {
			return p.Report, fmt.Errorf("import %s: tensor %s: %w", f.Path, m.Tensor, err)
		}
		feeds[v.Feed] = tensor
		targets = append(targets, v.AssignFeed)
	}
	if _, err := sess.Run(feeds, nil, targets); err != nil {
		return p.Report, fmt.Errorf("import %s: assign: %w", f.Path, err)
	}
	slog.Info("imported weights", "file", f.Path, "sha256", f.SHA256, "report", p.Report.String())
	return p.Report, nil
}

// ImportTorchvision is the import of earlier versions, kept for callers that have not chosen
// ImportOptions: a partial import (variables the file lacks stay initialised, unused tensors are
// ignored) in which a tensor of the wrong shape is still an error naming it and its variable.
//
// Deprecated: use Import, whose zero ImportOptions import strictly.
func ImportTorchvision(sess *tf.Session, g *ops.Graph, path string) (ImportReport, error) {
	f, err := weights.Read(path)
	if err != nil {
		return ImportReport{File: path}, err
	}
	p, err := PlanImport(VarSpecs(g), f, ImportOptions{Partial: true})
	if err != nil {
		return p.Report, err
	}
	var shapes []string
	for _, pr := range p.Report.Problems {
		if strings.HasPrefix(pr, "shape:") {
			shapes = append(shapes, pr)
		}
	}
	if len(shapes) > 0 {
		sort.Strings(shapes)
		return p.Report, fmt.Errorf("import %s: %s", path, shapes[0])
	}
	return ImportFile(sess, g, f, ImportOptions{Partial: true})
}

// oihwToHWIO transposes a PyTorch convolution kernel (axes 2, 3, 1, 0).
func oihwToHWIO(v []float32, s []int64) []float32 {
	o, in, h, w := s[0], s[1], s[2], s[3]
	out := make([]float32, len(v))
	for a := range o {
		for b := range in {
			for c := range h {
				for d := range w {
					out[((c*w+d)*in+b)*o+a] = v[((a*in+b)*h+c)*w+d]
				}
			}
		}
	}
	return out
}

// hwioToOIHW is the inverse of oihwToHWIO for an HWIO kernel of shape s.
func hwioToOIHW(v []float32, s []int64) []float32 {
	h, w, in, o := s[0], s[1], s[2], s[3]
	out := make([]float32, len(v))
	for c := range h {
		for d := range w {
			for b := range in {
				for a := range o {
					out[((a*in+b)*h+c)*w+d] = v[((c*w+d)*in+b)*o+a]
				}
			}
		}
	}
	return out
}

// transpose2D turns a row-major [rows, cols] matrix into [cols, rows].
func transpose2D(v []float32, rows, cols int64) []float32 {
	out := make([]float32, len(v))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// feedTensor makes a tensor of v's type and shape from row-major values.
func feedTensor(vals []float32, v *ops.Variable) (*tf.Tensor, error) {
	var t *tf.Tensor
	var err error
	if v.Feed.DataType() == tf.Double {
		f := make([]float64, len(vals))
		for i, x := range vals {
			f[i] = float64(x)
		}
		t, err = tf.NewTensor(f)
	} else {
		t, err = tf.NewTensor(vals)
	}
	if err != nil {
		return nil, err
	}
	if err := t.Reshape(v.Shape); err != nil {
		return nil, err
	}
	return t, nil
}
