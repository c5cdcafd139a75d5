package train

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// loadWith loads the file text (after a data.root line, so that only what a case adds is wrong) with
// sets and exactly the environment env, without checking paths.
func loadWith(t *testing.T, text string, sets, env []string) (*Config, error) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "c.yaml", "data.root: /data\n"+text)
	if env == nil {
		env = []string{}
	}
	return Load(LoadOptions{Path: path, Sets: sets, Env: env})
}

// problems is the list of a *ConfigError, or fails the test.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	return ce.Problems
}

// keysOfKind lists the keys whose type is kind or a list of kind.
func keysOfKind(kind reflect.Kind) []keySpec {
	var out []keySpec
	for _, k := range keySpecs() {
		if k.Type.Kind() == kind || (k.Type.Kind() == reflect.Slice && k.Type.Elem().Kind() == kind) {
			out = append(out, k)
		}
	}
	return out
}

// floatValue is a valid YAML value for a float key or list of floats, with item i (of a list)
// replaced by bad.
func floatValue(k keySpec, bad string) string {
	if k.Type.Kind() != reflect.Slice {
		return bad
	}
	if k.Name == "data.color_jitter" {
		return "[0.4, " + bad + ", 0.4, 0.1]"
	}
	return "[1, " + bad + "]"
}

// Every float key, and every list of floats, refuses NaN and the infinities in every spelling and from
// every source, naming the key, the value and where it came from.
func TestConfigNonFiniteFloatsRefused(t *testing.T) {
	floats := keysOfKind(reflect.Float64)
	if len(floats) < 20 {
		t.Fatalf("found %d float keys; the walk over Config is broken", len(floats))
	}
	// Spellings as YAML reads them (.nan) and as people type them (NaN, Infinity, 1e999).
	spellings := []string{".nan", ".NaN", ".inf", "-.inf", "+.Inf", "NaN", "nan", "Inf", "-Infinity", "1e999", "-1e999", `"NaN"`}
	for _, k := range floats {
		for _, sp := range spellings {
			val := floatValue(k, sp)
			sources := []struct {
				name       string
				file       string
				sets, env  []string
				from, item string
			}{
				{"file", k.Name + ": " + val + "\n", nil, nil, "", ""},
				{"-set", "", []string{k.Name + "=" + val}, nil, "(from -set)", ""},
				{"env", "", nil, []string{EnvName(k.Name) + "=" + val}, "(from $" + EnvName(k.Name) + ")", ""},
			}
			for _, src := range sources {
				t.Run(k.Name+"/"+sp+"/"+src.name, func(t *testing.T) {
					_, err := loadWith(t, src.file, src.sets, src.env)
					ps := problems(t, err)
					if len(ps) != 1 {
						t.Fatalf("%d problems, want 1:\n%v", len(ps), err)
					}
					p := ps[0]
					for _, w := range []string{k.Name + ": ", src.from, "want a finite number"} {
						if !strings.Contains(p, w) {
							t.Errorf("problem lacks %q: %s", w, p)
						}
					}
					if k.Type.Kind() == reflect.Slice && !strings.Contains(p, "item 2") {
						t.Errorf("problem does not name the list item: %s", p)
					}
				})
			}
		}
	}
}

// Validate, for configurations built in Go, refuses non-finite values of every float field and list
// the same way, once per key.
func TestConfigValidateRefusesNonFinite(t *testing.T) {
	for _, k := range keysOfKind(reflect.Float64) {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			t.Run(fmt.Sprintf("%s/%g", k.Name, v), func(t *testing.T) {
				cfg := Default()
				cfg.Data.Root = "/data"
				f := reflect.ValueOf(cfg).Elem().FieldByIndex(k.Index)
				if f.Kind() == reflect.Slice {
					f.Index(f.Len() - 1).SetFloat(v)
				} else {
					f.SetFloat(v)
				}
				ps := problems(t, cfg.Validate())
				if len(ps) != 1 || !strings.HasPrefix(ps[0], k.Name+": ") || !strings.Contains(ps[0], "want a finite number") {
					t.Fatalf("problems %q, want one naming %s as not finite", ps, k.Name)
				}
			})
		}
	}
}

// A key written without a value does not silently take the default: numbers and booleans refuse it,
// strings read it as empty and lists as the empty list.
func TestConfigKeyWithoutValue(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		sets, env []string
		want      string // substring of the one problem; "" for none
		check     func(*Config) bool
	}{
		{name: "float in the file", file: "train:\n  lr:\n", want: "train.lr: null (from "},
		{name: "int in the file", file: "train:\n  epochs: ~\n", want: "train.epochs: null (from "},
		{name: "bool in the file", file: "train:\n  nesterov: null\n", want: "train.nesterov: null (from "},
		{name: "float from -set", sets: []string{"train.gamma="}, want: `train.gamma: "" (from -set): no value`},
		{name: "int from the environment", env: []string{"FINEGRAIN_TRAIN_BATCH_SIZE="}, want: `train.batch_size: "" (from $FINEGRAIN_TRAIN_BATCH_SIZE): no value`},
		{name: "string in the file", file: "model:\n  pretrained:\n", check: func(c *Config) bool { return c.Model.Pretrained == "" }},
		{name: "string from the environment", file: "model:\n  pretrained: w.safetensors\n", env: []string{"FINEGRAIN_MODEL_PRETRAINED="},
			check: func(c *Config) bool { return c.Model.Pretrained == "" }},
		{name: "list in the file", file: "train:\n  milestones:\n", check: func(c *Config) bool { return len(c.Train.Milestones) == 0 }},
		{name: "empty section", file: "train:\nlog: {}\n", check: func(c *Config) bool { return reflect.DeepEqual(c.Train, Default().Train) }},
		{name: "empty mapping for a key", file: "model:\n  depth: {}\n", want: "model.depth: map[] (from "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadWith(t, tc.file, tc.sets, tc.env)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tc.check(cfg) {
					t.Fatalf("loaded %+v", cfg)
				}
				return
			}
			ps := problems(t, err)
			if len(ps) != 1 || !strings.Contains(ps[0], tc.want) {
				t.Fatalf("problems %q, want one with %q", ps, tc.want)
			}
		})
	}
}

// Every integer key that sizes memory, threads or loops has an upper bound, checked before anything is
// allocated: the largest int64, and a float beyond it, are refused for each, naming the key. Seeds are
// the only integers without a bound (any value is a seed).
func TestConfigEveryIntKeyBounded(t *testing.T) {
	unbounded := map[string]bool{"train.seed": true, "data.synthetic.seed": true}
	ints := append(keysOfKind(reflect.Int), keysOfKind(reflect.Int64)...)
	if len(ints) < 20 {
		t.Fatalf("found %d int keys; the walk over Config is broken", len(ints))
	}
	for _, k := range ints {
		if unbounded[k.Name] || k.Type.Kind() == reflect.Slice {
			continue
		}
		for _, v := range []string{"9223372036854775807", "2000000000", "1e30", "-9223372036854775808"} {
			t.Run(k.Name+"="+v, func(t *testing.T) {
				// The synthetic keys are checked for the synthetic format only.
				_, err := loadWith(t, "data.format: synthetic\n", []string{k.Name + "=" + v}, nil)
				ps := problems(t, err)
				found := false
				for _, p := range ps {
					found = found || strings.HasPrefix(p, k.Name+": ")
				}
				if !found {
					t.Fatalf("problems %q do not refuse %s", ps, k.Name)
				}
			})
		}
	}
}

// The bounds themselves: the limit is accepted and one past it refused, with a message that says the
// range.
func TestConfigIntBounds(t *testing.T) {
	tests := []struct {
		key       string
		ok, bad   int64
		want      string
		extraSets []string
	}{
		{"train.epochs", 100000, 100001, "want 1 to 100000", nil},
		{"train.batch_size", 65536, 65537, "want 1 to 65536", []string{"data.image_size=16"}},
		{"train.eval_batch_size", 65536, 65537, "want 0 (= batch_size) to 65536", []string{"data.image_size=16"}},
		{"train.eval_every_epochs", 100000, 100001, "want 1 to 100000", nil},
		{"checkpoint.keep", 100000, 100001, "want 1 to 100000", nil},
		{"checkpoint.every_epochs", 100000, 100001, "want 1 to 100000", nil},
		{"log.every_steps", 1 << 30, 1<<30 + 1, "want 0 to 1073741824", nil},
		{"log.cam_images", 64, 65, "want 0 to 64", nil},
		{"runtime.intra_op_threads", 1024, 1025, "want 0 (number of CPUs) to 1024", nil},
		{"runtime.inter_op_threads", 1024, 1025, "want 0 (TensorFlow's choice) to 1024", nil},
		{"data.workers", 1024, 1025, "want 0 (number of CPUs) to 1024", nil},
		{"data.image_size", 4096, 4097, "want 16 to 4096 pixels", []string{"train.batch_size=1", "data.resize_size=0"}},
		{"data.resize_size", 8192, 8193, "want 0 or data.image_size (448) to 8192 pixels", nil},
		{"model.num_classes", 100000, 100001, "want 0 (from the dataset) or a count up to 100000", nil},
		{"model.reduction", 1024, 1025, "want 1 to 1024", nil},
		{"data.synthetic.per_class", 10000, 10001, "want 2 to 10000", []string{"data.format=synthetic"}},
		{"data.synthetic.image_size", 2048, 2049, "want 32 to 2048 pixels", []string{"data.format=synthetic"}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if _, err := loadWith(t, "", append([]string{fmt.Sprintf("%s=%d", tc.key, tc.ok)}, tc.extraSets...), nil); err != nil {
				t.Errorf("%s=%d refused: %v", tc.key, tc.ok, err)
			}
			_, err := loadWith(t, "", append([]string{fmt.Sprintf("%s=%d", tc.key, tc.bad)}, tc.extraSets...), nil)
			want := fmt.Sprintf("%s: %d: %s", tc.key, tc.bad, tc.want)
			if ps := problems(t, err); len(ps) != 1 || ps[0] != want {
				t.Errorf("problems %q, want [%q]", ps, want)
			}
		})
	}
}

// One batch of input images is bounded as a product (batch × side² × 3 values), for the training and
// the evaluation batch: train.eval_batch_size 1000000000 ran out of memory after a training epoch.
func TestConfigBatchValuesBounded(t *testing.T) {
	tests := []struct {
		sets []string
		want string // "" for accepted
	}{
		{[]string{"train.batch_size=8", "data.image_size=4096", "data.resize_size=0"}, ""},
		{[]string{"train.batch_size=16", "data.image_size=4096", "data.resize_size=0"}, "train.batch_size: 16: a batch of 16 images of 4096×4096 pixels is 805306368 values (3.0 GiB as float32), more than 536870912 (2 GiB): lower train.batch_size or data.image_size"},
		{[]string{"train.eval_batch_size=512"}, ""},
		{[]string{"train.eval_batch_size=1024"}, "train.eval_batch_size: 1024: a batch of 1024 images of 448×448 pixels is 616562688 values"},
		{[]string{"train.eval_batch_size=1000000000"}, "train.eval_batch_size: 1000000000: want 0 (= batch_size) to 65536"},
		{[]string{"train.batch_size=2048", "data.image_size=224", "data.resize_size=256"}, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.sets, ","), func(t *testing.T) {
			_, err := loadWith(t, "", tc.sets, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if ps := problems(t, err); len(ps) != 1 || !strings.HasPrefix(ps[0], tc.want) {
				t.Fatalf("problems %q, want one starting %q", ps, tc.want)
			}
		})
	}
}

// An overflowing epoch count printed a negative step count; every way of writing one is refused
// before any arithmetic.
func TestConfigHugeEpochsRefused(t *testing.T) {
	for _, v := range []string{"9223372036854775807", "18446744073709551615", "1e19", "1e300", "4294967296"} {
		t.Run(v, func(t *testing.T) {
			_, err := loadWith(t, "train:\n  epochs: "+v+"\n", nil, nil)
			ps := problems(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], "train.epochs: ") {
				t.Fatalf("problems %q, want one for train.epochs", ps)
			}
		})
	}
}

// model.attention_stages: [] once built gates in all four stages (an empty list became nil, which
// nets reads as "all"). It is refused from every source, with the two ways to say what was meant.
func TestConfigEmptyAttentionStagesRefused(t *testing.T) {
	const want = "model.attention_stages: []"
	for name, src := range map[string]struct {
		file      string
		sets, env []string
	}{
		"file []":    {file: "model:\n  attention_stages: []\n"},
		"file null":  {file: "model:\n  attention_stages:\n"},
		"-set []":    {sets: []string{"model.attention_stages=[]"}},
		"-set empty": {sets: []string{"model.attention_stages="}},
		"env []":     {env: []string{"FINEGRAIN_MODEL_ATTENTION_STAGES=[]"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadWith(t, src.file, src.sets, src.env)
			ps := problems(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], want) ||
				!strings.Contains(ps[0], "leave the key out") || !strings.Contains(ps[0], "model.attention: none") {
				t.Fatalf("problems %q, want one refusing the empty list", ps)
			}
		})
	}
	// Built in Go, nil is refused too: Load never produces it, so it can only be a mistake.
	cfg := Default()
	cfg.Data.Root = "/data"
	cfg.Model.AttentionStages = nil
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate with nil stages: %v", err)
	}
}

// NetConfig keeps nil and empty apart, as nets reads them differently (every stage, no stage).
func TestConfigNetConfigKeepsStages(t *testing.T) {
	cfg := Default()
	for _, stages := range [][]int{nil, {}, {3, 4}, {1, 2, 3, 4}} {
		cfg.Model.AttentionStages = stages
		got := cfg.NetConfig(10).AttentionStages
		if (got == nil) != (stages == nil) || !reflect.DeepEqual(append([]int{}, got...), append([]int{}, stages...)) {
			t.Errorf("stages %#v became %#v", stages, got)
		}
	}
}
