package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/finegrain/finegrain/configs"
	"github.com/finegrain/finegrain/nets"
)

// Keys of a run's settings with a role of their own.
const (
	keyVariant = "model.attention"
	keySeed    = "train.seed"
	keyFormat  = "data.format"
	keyRoot    = "data.root"
	keyDepth   = "model.depth"
	keyWidth   = "model.width_multiplier"
	keyImage   = "data.image_size"
	keyEpochs  = "train.epochs"
	keySelect  = "train.selection"
	synthetic  = "data.synthetic."
)

// unknown is the value of a setting a run did not record while others did: it equals no other value,
// because two runs cannot be shown to be alike from what neither recorded.
const unknown = "?"

// flattenConfig reads RUN/config.yaml into dotted keys. Values are compared as text, so every number
// is written the way a float64 prints: width_multiplier 1 and 1.0 are the same setting.
func flattenConfig(text []byte) (map[string]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	flat := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+strings.ToLower(k)+".", sub)
				continue
			}
			flat[prefix+strings.ToLower(k)] = configText(v)
		}
	}
	walk("", doc)
	return flat, nil
}

// withDefaults completes a run's settings with today's defaults for the keys its config.yaml lacks: a
// run's file is fully resolved when it is written, so a missing key is one added since, which the run
// used at the value it then had, its default. Without it a key added later (data.test_fraction,
// data.synthetic.first_class) would split old and new runs of the same settings into two columns.
func withDefaults(cfg map[string]string) map[string]string {
	defaults, err := flattenConfig(configs.Defaults)
	if err != nil {
		return cfg // the embedded defaults always parse (train's tests load them)
	}
	for k, v := range defaults {
		if _, ok := cfg[k]; !ok {
			cfg[k] = v
		}
	}
	return cfg
}

func configText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = configText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// settingsOf is what a run records of how it was trained: config.yaml where the run has one, completed
// from summary.json (all there is for a run without config.yaml).
func settingsOf(r Run) map[string]string {
	s := r.Summary
	m := map[string]string{keyVariant: s.Attention, keySeed: strconv.FormatInt(s.Seed, 10)}
	set := func(key, value string, ok bool) {
		if ok {
			m[key] = value
		}
	}
	set(keyFormat, s.Dataset, s.Dataset != "")
	set(keyRoot, s.DataRoot, s.DataRoot != "")
	set(keyDepth, strconv.Itoa(s.Depth), s.Depth > 0)
	set(keyWidth, strconv.FormatFloat(s.WidthMultiplier, 'g', -1, 64), s.WidthMultiplier > 0)
	set(keyImage, strconv.Itoa(s.ImageSize), s.ImageSize > 0)
	set(keyEpochs, strconv.Itoa(s.Epochs), s.Epochs > 0)
	set(keySelect, s.Selection, s.Selection != "")
	for k, v := range r.Config {
		m[k] = v
	}
	return m
}

// ignored reports whether a key cannot change what a run measures: where its files go, how it logs,
// how many threads compute the same numbers.
func ignored(key string) bool {
	for _, p := range []string{"run.", "log.", "checkpoint."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	switch key {
	case "runtime.intra_op_threads", "runtime.inter_op_threads", "data.workers", "train.eval_batch_size":
		return true
	}
	return false
}

// appliesTo reports whether a model setting changes the network of a variant, as nets.ArchitectureDiff
// decides: the gate settings mean nothing to none and fcn, the fusion only to csca, the reduction only
// to ca and csca. A ResNet trained with model.gate_form plain and one with residual are the same
// experiment, and the baseline of both gate forms. Unknown variants keep every setting.
func appliesTo(variant, key string) bool {
	a, err := nets.ParseAttention(variant)
	if err != nil {
		return true
	}
	switch {
	case key == "model.csca_fusion":
		return a == nets.AttentionCSCA
	case key == "model.reduction":
		return a.HasChannelGate()
	case key == "model.attention_stages", strings.HasPrefix(key, "model.gate_"):
		return a.Gated()
	}
	return true
}

// identity is which dataset a run trained on: a row of the table. The format alone is not one (two
// class folders are both "folder"); the root and the class count are. A run that records no root is
// told apart by its sweep name as well.
type identity struct {
	format, root string
	classes      int
	synth        string // data.synthetic.* of a generated dataset, which its root alone does not fix
	name         string // only when root is empty
}

func identityOf(r Run, settings map[string]string) identity {
	id := identity{format: settings[keyFormat], root: settings[keyRoot], classes: r.Summary.NumClasses}
	if id.format == "synthetic" {
		var parts []string
		for k, v := range settings {
			if strings.HasPrefix(k, synthetic) {
				parts = append(parts, k+"="+v)
			}
		}
		slices.Sort(parts)
		id.synth = strings.Join(parts, " ")
	}
	if id.root == "" {
		id.name = r.Name
	}
	return id
}

// isIdentity reports whether a key belongs to the dataset rather than to how the model was trained.
func isIdentity(key string) bool {
	return key == keyFormat || key == keyRoot || strings.HasPrefix(key, synthetic)
}

// settingText is a setting as a column title shows it: the value alone where it says what it is
// (plain, sequential), key=value otherwise.
func settingText(key, value string) string {
	if value == unknown {
		return key + "=" + unknown
	}
	switch key {
	case "model.gate_form", "model.csca_fusion":
		return value
	case keyWidth:
		return "×" + value
	case keyImage:
		return value + " px"
	case "model.attention_stages":
		if value == "" {
			return "all stages"
		}
		return "stages " + value
	case "model.pretrained":
		if value == "" {
			return "from scratch"
		}
		return "pretrained " + filepath.Base(value)
	}
	return key + "=" + value
}

// FinalTop1 is the test top-1 (a fraction) of the model of the run's last epoch, or NaN and why not.
// It is known when the selected model is the last epoch's (train.selection last, or best_val choosing
// the last epoch: then it is the last line of metrics.jsonl, or summary.json's test_top1, the same
// evaluation) or when summary.json records final_test_top1. Otherwise the run never tested its last
// epoch: metrics.jsonl's last test_top1 is that of the selected model.
func FinalTop1(r Run) (float64, string) {
	s := r.Summary
	last := s.Epochs
	if last == 0 && len(r.Epochs) > 0 {
		last = r.Epochs[len(r.Epochs)-1].Epoch
	}
	if s.Selection == "last" || s.BestEpoch > 0 && s.BestEpoch == last {
		if n := len(r.Epochs); n > 0 && r.Epochs[n-1].Epoch == last && !math.IsNaN(r.Epochs[n-1].TestTop1) {
			return r.Epochs[n-1].TestTop1, ""
		}
		return s.TestTop1, ""
	}
	if !math.IsNaN(s.FinalTestTop1) {
		return s.FinalTestTop1, ""
	}
	if s.BestEpoch == 0 {
		return math.NaN(), "summary.json has no best_epoch, so whether the selected model is the last epoch's is unknown"
	}
	return math.NaN(), fmt.Sprintf("the model of an earlier epoch was selected (%s) and the run did not test its last epoch's", s.Selection)
}
