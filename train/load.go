package train

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/viper"
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

// LoadOptions says where a configuration comes from. Precedence, lowest first: configs/defaults.yaml,
// the file, environment variables (FINEGRAIN_<KEY>), then Sets.
type LoadOptions struct {
	Path string   // YAML file; empty uses the defaults alone
	Sets []string // "key=value" overrides (-set); values are YAML ("[30, 60]", "true", "0.1")
	// CheckPaths also requires data.root and model.pretrained to exist.
	CheckPaths bool
	// Stat checks that a path exists; nil means os.Stat.
	Stat func(string) error
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
// then checked. Every problem (unknown keys, wrong types, values out of range, missing paths) is reported
// at once in a *ConfigError.
func Load(o LoadOptions) (*Config, error) {
	if o.Stat == nil {
		o.Stat = func(p string) error { _, err := os.Stat(p); return err }
	}
	source := o.Path
	if source == "" {
		source = "defaults"
	}
	cerr := &ConfigError{Source: source}
	specs := keySpecs()
	known := map[string]keySpec{}
	sections := map[string]bool{}
	for _, k := range specs {
		known[k.Name] = k
		parts := strings.Split(k.Name, ".")
		for i := 1; i < len(parts); i++ {
			sections[strings.Join(parts[:i], ".")] = true
		}
	}

	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	defaults, err := flattenYAML(configs.Defaults)
	if err != nil {
		return nil, fmt.Errorf("configs/defaults.yaml: %w", err)
	}
	for _, k := range specs {
		d, ok := defaults[k.Name]
		if !ok {
			return nil, fmt.Errorf("configs/defaults.yaml: key %s has no default", k.Name)
		}
		v.SetDefault(k.Name, d)
	}
	for name := range defaults {
		if _, ok := known[name]; !ok {
			return nil, fmt.Errorf("configs/defaults.yaml: unknown key %s", name)
		}
	}

	fileKeys := map[string]bool{}
	if o.Path != "" {
		text, err := os.ReadFile(o.Path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		flat, err := flattenYAML(text)
		if err != nil {
			return nil, &ConfigError{Source: o.Path, Problems: []string{err.Error()}}
		}
		nested := map[string]any{}
		for name, val := range flat {
			switch {
			case sections[name]:
				cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s: %v: want a section of keys (%s.*)", name, quoteIfString(val), name))
			case known[name].Name == "":
				cerr.Problems = append(cerr.Problems, unknownKey(name, specs))
			default:
				fileKeys[name] = true
				setNested(nested, name, val)
			}
		}
		if err := v.MergeConfigMap(nested); err != nil {
			return nil, fmt.Errorf("read config %s: %w", o.Path, err)
		}
	}
	setKeys := map[string]bool{}
	for _, kv := range o.Sets {
		name, val, ok := strings.Cut(kv, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" {
			cerr.Problems = append(cerr.Problems, fmt.Sprintf("-set %q: want key=value", kv))
			continue
		}
		if _, ok := known[name]; !ok {
			cerr.Problems = append(cerr.Problems, "-set "+unknownKey(name, specs))
			continue
		}
		setKeys[name] = true
		v.Set(name, val)
	}

	// viper resolves the precedence; the source is only named in messages, and decides whether a value
	// is text to be parsed (-set, environment) or already typed (YAML).
	cfg := &Config{}
	root := reflect.ValueOf(cfg).Elem()
	undecoded := map[string]bool{}
	for _, k := range specs {
		from, textual := "default", false
		if setKeys[k.Name] {
			from, textual = "-set", true
		} else if s, ok := os.LookupEnv(EnvName(k.Name)); ok && s != "" {
			from, textual = "$"+EnvName(k.Name), true
		} else if fileKeys[k.Name] {
			from = o.Path
		}
		raw := v.Get(k.Name)
		if _, isText := raw.(string); !isText {
			textual = false
		}
		if err := assign(root.FieldByIndex(k.Index), raw, textual); err != nil {
			cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s: %v (from %s): %v", k.Name, quoteIfString(raw), from, err))
			undecoded[k.Name] = true
		}
	}
	// Range checks run even after type errors, so one pass reports everything; a key that could not be
	// decoded is reported once, for its type.
	for _, p := range cfg.validate(o.CheckPaths, o.Stat) {
		key, _, _ := strings.Cut(p, ":")
		if !undecoded[key] {
			cerr.Problems = append(cerr.Problems, p)
		}
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
	if p := c.validate(false, nil); len(p) > 0 {
		sort.Strings(p)
		return &ConfigError{Source: "config", Problems: p}
	}
	return nil
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
	def, err := flattenYAML(configs.Defaults)
	if err != nil {
		panic(fmt.Sprintf("configs/defaults.yaml: %v", err))
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

// keySpecs walks Config's fields: every leaf field is a key named by the yaml tags on its path.
func keySpecs() []keySpec {
	var out []keySpec
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + f.Tag.Get("yaml")
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, name+".", idx)
				continue
			}
			out = append(out, keySpec{Name: name, Doc: f.Tag.Get("doc"), Type: f.Type, Index: idx})
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
}

// setNested stores val under the dotted key name in a nested map.
func setNested(m map[string]any, name string, val any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = val
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

// flattenYAML reads a YAML mapping into dotted keys; lists and scalars are leaves.
func flattenYAML(text []byte) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := prefix + strings.ToLower(k)
			if sub, ok := v.(map[string]any); ok {
				walk(name+".", sub)
				continue
			}
			out[name] = v
		}
	}
	walk("", doc)
	return out, nil
}

// assign converts raw into dst's type. Values written as text (-set, environment) are parsed as YAML,
// so "3", "0.1", "true" and "[30, 60]" work; values from a file must already have the right type, except
// that an integer is accepted for a float.
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
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > 1<<62 {
			return 0, errors.New("integer too large")
		}
		return int64(x), nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	}
	return 0, errors.New("want an integer")
}

func toFloat(raw any) (float64, error) {
	switch x := raw.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		return x, nil
	case string: // YAML reads 1e-4 without a dot as a string
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f, nil
		}
	}
	return 0, errors.New("want a number")
}

// unknownKey names an unknown key and the closest known one.
func unknownKey(name string, specs []keySpec) string {
	best, dist := "", 1<<30
	for _, k := range specs {
		if d := editDistance(name, k.Name); d < dist {
			best, dist = k.Name, d
		}
	}
	msg := fmt.Sprintf("%s: unknown key", name)
	if dist <= max(3, len(name)/4) {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return msg
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
