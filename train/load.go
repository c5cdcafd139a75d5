package train

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/finegrain/finegrain/configs"
)

// EnvPrefix prefixes the environment variables that override configuration keys: train.epochs is read
// from FINEGRAIN_TRAIN_EPOCHS.
const EnvPrefix = "FINEGRAIN"

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// NonConfigEnv lists the FINEGRAIN_* environment variables that the project reads for something other
// than a configuration key. Load refuses every other FINEGRAIN_* variable that names no key, so that a
// misspelt override (FINEGRAIN_TRAIN_EPOCH) stops the run instead of being ignored; a command, script
// or test that reads a new FINEGRAIN_* variable adds it here (TestNonConfigEnvListsEveryReader finds
// the readers in the repository).
var NonConfigEnv = []string{
	"FINEGRAIN_BENCH_PY_ITERS",     // exported benchmarks: iterations of the Python reference
	"FINEGRAIN_LONG",               // internal/reliability: the long kill campaign
	"FINEGRAIN_SKIP_PYTHON",        // scripts/setup-python.sh: no Python environment
	"FINEGRAIN_SWEEP_FAKE_MODES",   // internal/sweep tests: outcomes of the fake trainer
	"FINEGRAIN_SWEEP_FAKE_TRAINER", // internal/sweep tests: the test binary acting as cmd/train
	"FINEGRAIN_TEST_XLA_CHILD",     // internal/bench tests: the re-executed XLA child
	"FINEGRAIN_TORCH_PYTHON",       // internal/pyref: the Python that has torchvision
	"FINEGRAIN_WEIGHTS",            // the directory of cached pretrained weights
}

// LoadOptions says where a configuration comes from. Precedence, lowest first: configs/defaults.yaml,
// the file, environment variables (FINEGRAIN_<KEY>), then Sets.
type LoadOptions struct {
	Path string   // YAML file; empty uses the defaults alone
	Sets []string // "key=value" overrides (-set); values are YAML ("[30, 60]", "true", "0.1")
	// CheckPaths also requires data.root and model.pretrained to exist.
	CheckPaths bool
	// Stat checks that a path exists; nil means os.Stat.
	Stat func(string) error
	// Env is the environment as "NAME=value" entries; nil reads the process's.
	Env []string
	// NoData is for commands that use no dataset (export of weights with -labels): data.root may be
	// empty.
	NoData bool
}

// ConfigError lists every problem found in a configuration, each naming its key and value.
type ConfigError struct {
	Source   string // the file, or "defaults"
	Problems []string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "config %s: %d problem", e.Source, n)
	if n != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Load resolves a configuration: the defaults completed by the file, the environment and the overrides,
// then checked. Every problem (unknown keys, keys given twice, wrong types, values out of range, missing
// paths) is reported at once in a *ConfigError.
//
// The layers are merged here rather than by a generic configuration library on purpose: such lookups
// treat a key written without a value as absent (so the default is used silently), let a scalar
// FINEGRAIN_TRAIN hide every train.* key, and pick an arbitrary winner between train.lr and Train.LR.
// Each of these is an error here, naming the variable, the flag or the lines involved.
func Load(o LoadOptions) (*Config, error) {
	if o.Stat == nil {
		o.Stat = func(p string) error { _, err := os.Stat(p); return err }
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	source := o.Path
	if source == "" {
		source = "defaults"
	}
	cerr := &ConfigError{Source: source}
	addf := func(format string, args ...any) { cerr.Problems = append(cerr.Problems, fmt.Sprintf(format, args...)) }
	specs := keySpecs()
	known := map[string]keySpec{}
	for _, k := range specs {
		known[k.Name] = k
	}
	sections := sectionNames(specs)

	defaults, dups, err := flattenYAML(configs.Defaults)
	if err == nil && len(dups) > 0 {
		err = errors.New(strings.Join(dups, "; "))
	}
	if err != nil {
		return nil, fmt.Errorf("configs/defaults.yaml: %w", err)
	}
	for _, k := range specs {
		if _, ok := defaults[k.Name]; !ok {
			return nil, fmt.Errorf("configs/defaults.yaml: key %s has no default", k.Name)
		}
	}
	for name := range defaults {
		if _, ok := known[name]; !ok {
			return nil, fmt.Errorf("configs/defaults.yaml: unknown key %s", name)
		}
	}

	// layer is where a key's value comes from; textual values (-set, environment) are YAML to parse.
	type layer struct {
		raw     any
		from    string // "default", the file, "$FINEGRAIN_…" or "-set"
		textual bool
	}
	values := map[string]layer{}
	for name, d := range defaults {
		values[name] = layer{raw: d, from: "default"}
	}

	if o.Path != "" {
		text, err := os.ReadFile(o.Path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		flat, dups, err := flattenYAML(text)
		if err != nil {
			return nil, &ConfigError{Source: o.Path, Problems: []string{err.Error()}}
		}
		cerr.Problems = append(cerr.Problems, dups...)
		for name, val := range flat {
			switch {
			case sections[name]:
				// "train:" with every key commented out is an empty section, not a value.
				if m, ok := val.(map[string]any); val != nil && !(ok && len(m) == 0) {
					addf("%s: %v: want a section of keys (%s.*)", name, quoteIfString(val), name)
				}
			case known[name].Name == "":
				addf("%s", unknownKey(name, specs))
			default:
				values[name] = layer{raw: val, from: o.Path}
			}
		}
	}

	envKeys := map[string]string{}
	for _, k := range specs {
		envKeys[EnvName(k.Name)] = k.Name
	}
	envSections := map[string]string{}
	for s := range sections {
		envSections[EnvName(s)] = s
	}
	seenEnv := map[string]bool{}
	for _, kv := range o.Env {
		name, val, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, EnvPrefix+"_") || seenEnv[name] {
			continue // the first of duplicate entries is the one os.Getenv sees
		}
		seenEnv[name] = true
		switch key := envKeys[name]; {
		case slices.Contains(NonConfigEnv, name):
		case key != "":
			values[key] = layer{raw: val, from: "$" + name, textual: true}
		case envSections[name] != "":
			s := envSections[name]
			addf("$%s=%s: names the section %s, not one key: unset it and set the keys you mean one by one, e.g. $%s", name, quoteIfString(val), s, EnvName(firstKeyOf(s, specs)))
		case name != upper && (envKeys[upper] != "" || slices.Contains(NonConfigEnv, upper)):
			addf("$%s: environment variable names are upper case: did you mean $%s?", name, upper)
		default:
			addf("%s", unknownEnv(name, specs))
		}
	}

	for _, kv := range o.Sets {
		name, val, ok := strings.Cut(kv, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case !ok || name == "":
			addf("-set %q: want key=value", kv)
		case sections[name]:
			addf("-set %s: names a section, not one key: set its keys one by one, e.g. -set %s=…", name, firstKeyOf(name, specs))
		case known[name].Name == "":
			addf("-set %s", unknownKey(name, specs))
		default:
			// A key set twice on the command line takes the last value, as any repeated flag does.
			values[name] = layer{raw: val, from: "-set", textual: true}
		}
	}

	cfg := &Config{}
	root := reflect.ValueOf(cfg).Elem()
	undecoded := map[string]bool{}
	for _, k := range specs {
		l := values[k.Name]
		if err := assign(root.FieldByIndex(k.Index), l.raw, l.textual); err != nil {
			addf("%s: %s (from %s): %v", k.Name, quoteIfString(l.raw), l.from, err)
			undecoded[k.Name] = true
		}
	}
	// Range checks run even after type errors, so one pass reports everything; a key that could not be
	// decoded is reported once, for its type, and checks of other keys against it (which saw its zero
	// value) are left out. A value from the environment is named by its variable: unlike the file
	// (named in the message's first line) and -set (on the command line just typed), nothing else
	// shows where it came from.
	dependsOnUndecoded := func(p problem) bool {
		for k := range undecoded {
			if p.key == k || strings.Contains(p.want, k) {
				return true
			}
		}
		return false
	}
	for _, p := range cfg.validate(o.CheckPaths, o.Stat) {
		if o.NoData && p.key == "data.root" {
			continue
		}
		if dependsOnUndecoded(p) {
			continue
		}
		from := values[p.key].from
		if !strings.HasPrefix(from, "$") {
			from = ""
		}
		cerr.Problems = append(cerr.Problems, p.format(from))
	}
	if len(cerr.Problems) > 0 {
		sort.Strings(cerr.Problems)
		return nil, cerr
	}
	return cfg, nil
}

// Default returns the configuration of configs/defaults.yaml alone (data.root is empty, so it is not
// valid for training by itself).
func Default() *Config {
	cfg := &Config{}
	if err := yaml.Unmarshal(configs.Defaults, cfg); err != nil {
		panic(fmt.Sprintf("configs/defaults.yaml: %v", err)) // embedded and tested: cannot happen
	}
	return cfg
}

// Validate checks a configuration built in Go (for example a modified Default()) the way Load checks
// a file, without touching the file system.
func (c *Config) Validate() error {
	ps := c.validate(false, nil)
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.format("")
	}
	sort.Strings(out)
	return &ConfigError{Source: "config", Problems: out}
}

// YAML is the configuration as a complete YAML document that Load reads back to the same value.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b.Bytes(), nil
}

// Key describes one configuration key for the reference table.
type Key struct {
	Name    string // section.key
	Type    string // int, float, bool, string, list of int, list of float
	Default string // as YAML
	Doc     string
}

// Keys lists every configuration key in file order with its type, default and description.
func Keys() []Key {
	def, _, err := flattenYAML(configs.Defaults)
	if err != nil {
		panic(fmt.Sprintf("configs/defaults.yaml: %v", err)) // embedded and tested: cannot happen
	}
	var out []Key
	for _, k := range keySpecs() {
		d := "—"
		if v, ok := def[k.Name]; ok {
			b, _ := yaml.Marshal(v)
			d = strings.TrimSpace(string(b))
			if s, ok := v.(string); ok && s == "" {
				d = `""`
			}
			d = strings.ReplaceAll(d, "\n", " ")
		}
		out = append(out, Key{Name: k.Name, Type: typeName(k.Type), Default: d, Doc: k.Doc})
	}
	return out
}

// KeyTable is Keys as a Markdown table (the one in configs/README.md).
func KeyTable() string {
	var b strings.Builder
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, k := range Keys() {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", k.Name, k.Type, k.Default, strings.ReplaceAll(k.Doc, "|", "\\|"))
	}
	return b.String()
}

type keySpec struct {
	Name  string
	Doc   string
	Type  reflect.Type
	Index []int
}

// keySpecs walks Config's fields: every leaf field is a key named by the yaml tags on its path; the
// keys of an inline struct (model's nets.Config) belong to the section that holds it.
func keySpecs() []keySpec {
	var out []keySpec
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			name := prefix + tag
			idx := append(slices.Clone(index), i)
			switch {
			case f.Type.Kind() == reflect.Struct && opts == "inline":
				walk(f.Type, prefix, idx)
				continue
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, name+".", idx)
				continue
			}
			out = append(out, keySpec{Name: name, Doc: f.Tag.Get("doc"), Type: f.Type, Index: idx})
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
}

// sectionNames is the set of dotted prefixes of the keys: model, data, data.synthetic, ...
func sectionNames(specs []keySpec) map[string]bool {
	sections := map[string]bool{}
	for _, k := range specs {
		parts := strings.Split(k.Name, ".")
		for i := 1; i < len(parts); i++ {
			sections[strings.Join(parts[:i], ".")] = true
		}
	}
	return sections
}

// firstKeyOf is the first key of a section, for examples in messages.
func firstKeyOf(section string, specs []keySpec) string {
	for _, k := range specs {
		if strings.HasPrefix(k.Name, section+".") {
			return k.Name
		}
	}
	return section
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "int"
	case reflect.Float64:
		return "float"
	case reflect.Bool:
		return "bool"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return t.String()
}

// flattenYAML reads a YAML mapping into dotted, lower-case keys (lists, scalars and empty mappings are
// leaves). Keys ignore letter case and "a.b:" is the same key as "a: {b:}", so one key can be written in
// several places of a file; which of them a map would keep is arbitrary, so each such key is left out
// and reported in dups, naming the places by line.
func flattenYAML(text []byte) (flat map[string]any, dups []string, err error) {
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, nil, fmt.Errorf("not valid YAML: %w", err)
	}
	lines := keyLines(text)
	type place struct {
		written []string
		line    int
	}
	flat = map[string]any{}
	places := map[string][]place{}
	var walk func(written []string, m map[string]any)
	walk = func(written []string, m map[string]any) {
		for k, v := range m {
			w := append(slices.Clone(written), k)
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(w, sub)
				continue
			}
			name := strings.ToLower(strings.Join(w, "."))
			places[name] = append(places[name], place{w, lines[strings.Join(w, "\x00")]})
			flat[name] = v
		}
	}
	walk(nil, doc)
	for name, ps := range places {
		if len(ps) < 2 {
			continue
		}
		delete(flat, name)
		texts := make([]string, len(ps))
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].line != ps[j].line {
				return ps[i].line < ps[j].line
			}
			return strings.Join(ps[i].written, ".") < strings.Join(ps[j].written, ".")
		})
		for i, p := range ps {
			if p.line > 0 {
				texts[i] = fmt.Sprintf("line %d (%s)", p.line, strings.Join(p.written, ": "))
			} else {
				texts[i] = fmt.Sprintf("%s (merged with <<)", strings.Join(p.written, ": "))
			}
		}
		dups = append(dups, fmt.Sprintf("%s: given %d times, at %s: keep one (keys ignore letter case, and a dotted key is the same as the nested one)",
			name, len(ps), strings.Join(texts, " and ")))
	}
	sort.Strings(dups)
	return flat, dups, nil
}

// keyLines maps each mapping key of a YAML document, by its path of keys as written (joined by NUL), to
// its line. Aliases are not followed: their keys are written, and found, at the anchor.
func keyLines(text []byte) map[string]int {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil
	}
	lines := map[string]int{}
	var walk func(path []string, n *yaml.Node)
	walk = func(path []string, n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(path, c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := append(slices.Clone(path), n.Content[i].Value)
				id := strings.Join(p, "\x00")
				if _, ok := lines[id]; !ok {
					lines[id] = n.Content[i].Line
				}
				walk(p, n.Content[i+1])
			}
		}
	}
	walk(nil, &doc)
	return lines
}

// errNoValue is a key written without a value ("lr:", "-set train.lr=", FINEGRAIN_TRAIN_LR=""), for a
// type that has no empty value. Taking the default instead would hide a half-finished edit.
var errNoValue = errors.New("no value: give one, or leave the key out to take the default")

// assign converts raw into dst's type. Values written as text (-set, environment) are parsed as YAML,
// so "3", "0.1", "true" and "[30, 60]" work; values from a file must already have the right type, except
// that an integer is accepted for a float. A missing value (YAML null, or empty text) is the empty
// string for a string and the empty list for a list, and an error for anything else.
func assign(dst reflect.Value, raw any, textual bool) error {
	if textual && dst.Kind() != reflect.String {
		var parsed any
		if err := yaml.Unmarshal([]byte(raw.(string)), &parsed); err != nil {
			return fmt.Errorf("not a YAML value: %w", err)
		}
		raw = parsed
	}
	switch dst.Kind() {
	case reflect.String:
		switch x := raw.(type) {
		case string:
			dst.SetString(x)
		case nil:
			dst.SetString("")
		default:
			return errors.New("want a string")
		}
	case reflect.Bool:
		if raw == nil {
			return errNoValue
		}
		b, ok := raw.(bool)
		if !ok {
			return errors.New("want true or false")
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := toInt(raw)
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := toFloat(raw)
		if err != nil {
			return err
		}
		dst.SetFloat(f)
	case reflect.Slice:
		var items []any
		switch x := raw.(type) {
		case []any:
			items = x
		case nil:
		default:
			items = []any{x} // a single value for a one-element list
		}
		s := reflect.MakeSlice(dst.Type(), len(items), len(items))
		for i, it := range items {
			if err := assign(s.Index(i), it, false); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		dst.Set(s)
	default:
		return fmt.Errorf("unsupported type %s", dst.Type())
	}
	return nil
}

func toInt(raw any) (int64, error) {
	switch x := raw.(type) {
	case nil:
		return 0, errNoValue
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, errors.New("integer too large")
		}
		return int64(x), nil
	case float64:
		// 1e3 is an integer written as a float. NaN and the infinities are not; converting a float
		// beyond int64 is implementation-defined in Go, so the range is checked first.
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			break
		}
		if math.Abs(x) >= 1<<63 {
			return 0, errors.New("integer too large")
		}
		return int64(x), nil
	}
	return 0, errors.New("want an integer")
}

// errNotFinite refuses NaN and the infinities for every float key: NaN fails every comparison, so a
// range check written as x < 0 lets it through, and an infinite epoch count or rate silently trains
// something else (a NaN warm-up trained at learning rate 0 and exited 0).
var errNotFinite = errors.New("want a finite number (NaN and infinities are not accepted)")

func toFloat(raw any) (float64, error) {
	var f float64
	switch x := raw.(type) {
	case nil:
		return 0, errNoValue
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	case string: // "1e-4" quoted, or "NaN" from -set and the environment, which YAML keeps as text
		v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("want a number")
		}
		f = v
	default:
		return 0, errors.New("want a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errNotFinite
	}
	return f, nil
}

// unknownKey names an unknown key and the closest known one.
func unknownKey(name string, specs []keySpec) string {
	names := make([]string, len(specs))
	for i, k := range specs {
		names[i] = k.Name
	}
	msg := fmt.Sprintf("%s: unknown key", name)
	if best, ok := configs.Closest(name, names); ok {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return msg
}

// unknownEnv names a FINEGRAIN_* variable that is neither a key's nor one of NonConfigEnv, and the
// closest variable that is.
func unknownEnv(name string, specs []keySpec) string {
	names := slices.Clone(NonConfigEnv)
	for _, k := range specs {
		names = append(names, EnvName(k.Name))
	}
	msg := fmt.Sprintf("$%s: no configuration key has this environment variable", name)
	if best, ok := configs.Closest(strings.ToUpper(name), names); ok {
		msg += fmt.Sprintf(" (did you mean $%s?)", best)
	} else {
		msg += fmt.Sprintf(" (the variable of a key is %s_ and the key in capitals with _ for ., e.g. %s)", EnvPrefix, EnvName("train.epochs"))
	}
	return msg + "; unset it"
}
