package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/finegrain/finegrain/nets"
)

// handRun is a run directory written by hand as package train writes it: summary.json, a config.yaml
// of the given dotted keys (besides the ones every config has) and metrics.jsonl.
type handRun struct {
	dir     string // below the root
	variant string
	seed    int64
	top1    float64 // summary.json's test_top1
	root    string  // data.root
	classes int
	keys    map[string]any // more config.yaml keys, dotted; a nil value leaves the key out
	summary map[string]any // more summary.json fields, or their replacements; a nil value leaves it out
	epochs  int            // metrics.jsonl lines; 0 means none written
	last    float64        // test_top1 of the last line; 0 means none
}

func writeHandRuns(t *testing.T, root string, runs ...handRun) {
	t.Helper()
	for _, r := range runs {
		dir := filepath.Join(root, filepath.FromSlash(r.dir))
		s := map[string]any{"num_classes": r.classes, "test_top1": r.top1, "test_top5": 1, "test_mean_class_acc": r.top1,
			"val_top1": r.top1, "epochs": 5, "best_epoch": 5, "attention": r.variant, "dataset": "folder", "data_root": r.root,
			"seed": r.seed, "selection": "best_val", "depth": 18, "width_multiplier": 0.5, "image_size": 64,
			"train_images": 40, "val_images": 8, "test_images": 40}
		// summary.json records these settings too
		for k, field := range map[string]string{"model.depth": "depth", "model.width_multiplier": "width_multiplier", "data.image_size": "image_size"} {
			if v, ok := r.keys[k]; ok {
				s[field] = v
			}
		}
		for k, v := range r.summary {
			s[k] = v
			if v == nil {
				delete(s, k)
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "summary.json"), string(b))
		keys := map[string]any{"model.attention": r.variant, "model.depth": 18, "model.width_multiplier": 0.5,
			"model.gate_form": "residual", "model.csca_fusion": "parallel", "model.reduction": 16, "model.attention_stages": nil,
			"model.pretrained": "", "data.format": "folder", "data.root": r.root, "data.image_size": 64, "data.workers": 2,
			"data.val_fraction": 0.2, "train.seed": r.seed, "train.epochs": 5, "train.lr": 0.002, "train.selection": "best_val",
			"runtime.intra_op_threads": 1, "run.dir": dir, "log.every_steps": 10}
		for k, v := range r.keys {
			keys[k] = v
			if v == nil {
				delete(keys, k)
			}
		}
		write(t, filepath.Join(dir, "config.yaml"), configYAML(t, keys))
		var m strings.Builder
		for e := 1; e <= r.epochs; e++ {
			line := map[string]any{"epoch": e, "train_loss": 1.0 / float64(e), "train_top1": 0.1 * float64(e), "val_top1": 0.1 * float64(e)}
			if e == r.epochs && r.last != 0 {
				line["test_top1"] = r.last
			}
			b, _ := json.Marshal(line)
			m.Write(b)
			m.WriteByte('\n')
		}
		if r.epochs > 0 {
			write(t, filepath.Join(dir, "metrics.jsonl"), m.String())
		}
	}
}

// configYAML writes dotted keys as nested YAML.
func configYAML(t *testing.T, keys map[string]any) string {
	t.Helper()
	doc := map[string]any{}
	for k, v := range keys {
		parts := strings.Split(k, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// markdownTable reads the first Markdown table of text: its header and each row's cells by column title.
func markdownTable(t *testing.T, text string) (header []string, rows map[string]map[string]string) {
	t.Helper()
	rows = map[string]map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| ") {
			if header != nil {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		switch {
		case header == nil:
			header = cells
		case cells[0] == "---":
		default:
			row := map[string]string{}
			for i, c := range cells {
				if i < len(header) {
					row[header[i]] = strings.Trim(c, "*")
				}
			}
			rows[cells[0]] = row
		}
	}
	return header, rows
}

func tableMarkdown(t *testing.T, root string) (*Table, string) {
	t.Helper()
	runs, problems, err := Load(root)
	if err != nil || len(problems) > 0 {
		t.Fatalf("Load: %v %v", problems, err)
	}
	tab, err := NewTable(runs, "test_top1")
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := tab.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	return tab, md.String()
}

// Issue 19: two class-folder datasets swept with -config 'my_{dataset}.yaml' -datasets a,b were one row
// "folder", their runs averaged as if they were seeds. A row is a dataset: its root and class count.
func TestDatasetsOfOneFormat(t *testing.T) {
	ab := func(prefix string, rootA, rootB string, classesB int) []handRun {
		var runs []handRun
		for i, d := range []struct {
			name, root string
			classes    int
			top1       float64
		}{{"a", rootA, 4, 0.40}, {"b", rootB, classesB, 0.20}} {
			for _, v := range []string{"none", "csca"} {
				for seed := int64(1); seed <= 2; seed++ {
					dir := fmt.Sprintf("%s%s/%s/seed%d", prefix, d.name, v, seed)
					if prefix == "flat" {
						dir = fmt.Sprintf("run-%s-%s-%d", d.name, v, seed)
					}
					bonus := map[string]float64{"none": 0, "csca": 0.05}[v]
					runs = append(runs, handRun{dir: dir, variant: v, seed: seed, top1: d.top1 + bonus + 0.02*float64(seed) + 0.1*float64(i),
						root: d.root, classes: d.classes})
				}
			}
		}
		return runs
	}
	tests := []struct {
		name string
		runs []handRun
		want map[string]map[string]string // row -> column title -> cell
	}{
		{"one sweep", ab("", "data/a", "data/b", 6), map[string]map[string]string{
			"a": {"ResNet18": "43.00 ± 1.41 (2)", "CSCA-ResNet18": "48.00 ± 1.41 (2)"},
			"b": {"ResNet18": "33.00 ± 1.41 (2)", "CSCA-ResNet18": "38.00 ± 1.41 (2)"}}},
		{"outside a sweep: named by the root", ab("flat", "/data/a", "/data/b", 6), map[string]map[string]string{
			"a": {"ResNet18": "43.00 ± 1.41 (2)", "CSCA-ResNet18": "48.00 ± 1.41 (2)"},
			"b": {"ResNet18": "33.00 ± 1.41 (2)", "CSCA-ResNet18": "38.00 ± 1.41 (2)"}}},
		{"two sweeps, one name, two datasets", append(ab("sw1/", "data/x", "data/b", 6)[:4], ab("sw2/", "data/y", "data/b", 6)[:4]...),
			map[string]map[string]string{
				"a (data/x, 4 classes)": {"ResNet18": "43.00 ± 1.41 (2)", "CSCA-ResNet18": "48.00 ± 1.41 (2)"},
				"a (data/y, 4 classes)": {"ResNet18": "43.00 ± 1.41 (2)", "CSCA-ResNet18": "48.00 ± 1.41 (2)"}}},
		{"one root, two class counts", ab("", "data/a", "data/a", 6), map[string]map[string]string{
			"a": {"ResNet18": "43.00 ± 1.41 (2)", "CSCA-ResNet18": "48.00 ± 1.41 (2)"},
			"b": {"ResNet18": "33.00 ± 1.41 (2)", "CSCA-ResNet18": "38.00 ± 1.41 (2)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeHandRuns(t, root, tc.runs...)
			tab, md := tableMarkdown(t, root)
			_, rows := markdownTable(t, md)
			if len(rows) != len(tc.want) || len(tab.Rows) != len(tc.want) {
				t.Fatalf("rows %v, want %d:\n%s", rows, len(tc.want), md)
			}
			for name, cells := range tc.want {
				for col, want := range cells {
					if got := rows[name][col]; got != want {
						t.Errorf("%s, %s: %q, want %q\n%s", name, col, got, want, md)
					}
				}
			}
		})
	}
}

// Runs that differ in a setting besides the variant are never one cell: each value has its own column,
// whose title says it, and the report names the setting. Settings that do not change a variant's
// network leave its runs in one column, and settings that cannot change a result split nothing.
func TestSettingsSplitColumns(t *testing.T) {
	type group struct {
		variant string
		keys    map[string]any
		top1    float64
	}
	tests := []struct {
		name   string
		groups []group
		header []string // after "dataset"
		cells  map[string]string
		says   string // in the Markdown; "" for nothing about differing settings
	}{
		{"gate forms", []group{{"none", nil, 0.50}, {"csca", map[string]any{"model.gate_form": "plain"}, 0.40},
			{"csca", map[string]any{"model.gate_form": "residual"}, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18 (plain)", "CSCA-ResNet18 (residual)"},
			map[string]string{"ResNet18": "51.00 ± 1.41 (2)", "CSCA-ResNet18 (plain)": "41.00 ± 1.41 (2)", "CSCA-ResNet18 (residual)": "61.00 ± 1.41 (2)"},
			"runs of one dataset differ in model.gate_form (plain, residual)"},
		{"gate forms of ResNet are one ResNet", []group{{"none", map[string]any{"model.gate_form": "plain"}, 0.50},
			{"none", map[string]any{"model.gate_form": "residual"}, 0.50}, {"sa", map[string]any{"model.gate_form": "plain"}, 0.40},
			{"sa", map[string]any{"model.gate_form": "residual"}, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18 (plain)", "SA-ResNet18 (residual)", "CSCA-ResNet18"},
			map[string]string{"ResNet18": "51.00 ± 1.15 (4)", "SA-ResNet18 (plain)": "41.00 ± 1.41 (2)", "SA-ResNet18 (residual)": "61.00 ± 1.41 (2)"},
			"model.gate_form does not change ResNet"},
		{"fusion", []group{{"csca", map[string]any{"model.csca_fusion": "sequential"}, 0.40}, {"csca", nil, 0.60},
			{"ca", map[string]any{"model.csca_fusion": "sequential"}, 0.30}, {"ca", nil, 0.30}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18 (parallel)", "CSCA-ResNet18 (sequential)"},
			map[string]string{"CA-ResNet18": "31.00 ± 1.15 (4)", "CSCA-ResNet18 (parallel)": "61.00 ± 1.41 (2)", "CSCA-ResNet18 (sequential)": "41.00 ± 1.41 (2)"},
			"model.csca_fusion (parallel, sequential)"},
		{"widths", []group{{"none", nil, 0.50}, {"none", map[string]any{"model.width_multiplier": 1.0}, 0.60}},
			[]string{"ResNet18 (×0.5)", "ResNet18 (×1)", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18"},
			map[string]string{"ResNet18 (×0.5)": "51.00 ± 1.41 (2)", "ResNet18 (×1)": "61.00 ± 1.41 (2)"},
			"model.width_multiplier (0.5, 1)"},
		{"depths", []group{{"none", nil, 0.50}, {"none", map[string]any{"model.depth": 50}, 0.60}, {"csca", map[string]any{"model.depth": 50}, 0.70}},
			[]string{"ResNet18", "ResNet50", "FCN-ResNet", "CA-ResNet", "SA-ResNet", "CSCA-ResNet50"},
			map[string]string{"ResNet18": "51.00 ± 1.41 (2)", "ResNet50": "61.00 ± 1.41 (2)", "CSCA-ResNet50": "71.00 ± 1.41 (2)"},
			"model.depth (18, 50)"},
		{"pretrained weights", []group{{"sa", nil, 0.20}, {"sa", map[string]any{"model.pretrained": "runs/pre/none.safetensors"}, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18 (from scratch)", "SA-ResNet18 (pretrained none.safetensors)", "CSCA-ResNet18"},
			map[string]string{"SA-ResNet18 (from scratch)": "21.00 ± 1.41 (2)", "SA-ResNet18 (pretrained none.safetensors)": "61.00 ± 1.41 (2)"},
			`model.pretrained ("", runs/pre/none.safetensors)`},
		{"attention stages", []group{{"ca", nil, 0.20}, {"ca", map[string]any{"model.attention_stages": []int{3, 4}}, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18 (all stages)", "CA-ResNet18 (stages [3, 4])", "SA-ResNet18", "CSCA-ResNet18"},
			map[string]string{"CA-ResNet18 (all stages)": "21.00 ± 1.41 (2)", "CA-ResNet18 (stages [3, 4])": "61.00 ± 1.41 (2)"},
			"model.attention_stages"},
		{"image sizes", []group{{"fcn", nil, 0.20}, {"fcn", map[string]any{"data.image_size": 192}, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18 (64 px)", "FCN-ResNet18 (192 px)", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18"},
			map[string]string{"FCN-ResNet18 (64 px)": "21.00 ± 1.41 (2)", "FCN-ResNet18 (192 px)": "61.00 ± 1.41 (2)"},
			"data.image_size (64, 192)"},
		{"a key older runs do not record takes its default", []group{{"csca", map[string]any{"model.gate_init_logit": 2}, 0.40}, {"csca", nil, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18 (model.gate_init_logit=2)", "CSCA-ResNet18 (model.gate_init_logit=6)"},
			map[string]string{"CSCA-ResNet18 (model.gate_init_logit=2)": "41.00 ± 1.41 (2)", "CSCA-ResNet18 (model.gate_init_logit=6)": "61.00 ± 1.41 (2)"},
			"model.gate_init_logit (2, 6)"},
		{"a missing key and its default are one setting", []group{{"csca", map[string]any{"model.gate_init_logit": 6}, 0.60}, {"csca", nil, 0.60}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18"},
			map[string]string{"CSCA-ResNet18": "61.00 ± 1.15 (4)"}, ""},
		{"threads, workers and the run directory split nothing", []group{{"none", map[string]any{"data.workers": 7, "runtime.intra_op_threads": 3}, 0.50},
			{"none", map[string]any{"data.workers": 1, "log.every_steps": 1}, 0.50}},
			[]string{"ResNet18", "FCN-ResNet18", "CA-ResNet18", "SA-ResNet18", "CSCA-ResNet18"},
			map[string]string{"ResNet18": "51.00 ± 1.15 (4)"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for i, g := range tc.groups {
				for seed := int64(1); seed <= 2; seed++ {
					writeHandRuns(t, root, handRun{dir: fmt.Sprintf("sweep%d/d/%s/seed%d", i, g.variant, seed), variant: g.variant, seed: seed,
						top1: g.top1 + 0.02*float64(seed-1), root: "data/d", classes: 5, keys: g.keys})
				}
			}
			_, md := tableMarkdown(t, root)
			header, rows := markdownTable(t, md)
			if !reflect.DeepEqual(header, append([]string{"dataset"}, tc.header...)) {
				t.Errorf("header %q, want %q\n%s", header, tc.header, md)
			}
			if len(rows) != 1 {
				t.Fatalf("rows %v\n%s", rows, md)
			}
			for col, want := range tc.cells {
				if got := rows["d"][col]; got != want {
					t.Errorf("%s: %q, want %q", col, got, want)
				}
			}
			if tc.says != "" && !strings.Contains(md, tc.says) {
				t.Errorf("the report does not say %q:\n%s", tc.says, md)
			}
			if tc.says == "" && strings.Contains(md, "differ in") {
				t.Errorf("the report says settings differ:\n%s", md)
			}
		})
	}
}

// A setting that differs only between datasets splits no column: each dataset states its own.
func TestRowSettings(t *testing.T) {
	root := t.TempDir()
	for _, d := range []struct {
		name string
		lr   float64
	}{{"a", 0.01}, {"b", 0.1}} {
		for _, v := range []string{"none", "csca"} {
			writeHandRuns(t, root, handRun{dir: d.name + "/" + v + "/seed1", variant: v, seed: 1, top1: 0.5, root: "data/" + d.name,
				classes: 3, keys: map[string]any{"train.lr": d.lr}})
		}
	}
	tab, md := tableMarkdown(t, root)
	if len(tab.ColumnKeys) != 0 || !reflect.DeepEqual(tab.RowKeys, []string{"train.lr"}) || len(tab.Columns) != len(nets.Variants()) {
		t.Errorf("column keys %q, row keys %q, %d columns", tab.ColumnKeys, tab.RowKeys, len(tab.Columns))
	}
	for _, want := range []string{"Runs of different datasets differ in train.lr (0.01, 0.1)", "| other settings |",
		"| a | folder | data/a | 3 |", "| best_val | train.lr=0.01 |", "| best_val | train.lr=0.1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestFlattenConfig(t *testing.T) {
	tests := []struct {
		text string
		want map[string]string
		err  bool
	}{
		{"model:\n  width_multiplier: 1\n  depth: 18\n", map[string]string{"model.width_multiplier": "1", "model.depth": "18"}, false},
		{"model:\n  width_multiplier: 1.0\n", map[string]string{"model.width_multiplier": "1"}, false},
		{"model:\n  attention_stages: [3, 4]\n  pretrained: \"\"\n  x: null\n  Flag: true\n",
			map[string]string{"model.attention_stages": "[3, 4]", "model.pretrained": "", "model.x": "", "model.flag": "true"}, false},
		{"data:\n  synthetic:\n    classes: 10\n    difficulty: 0.3\n", map[string]string{"data.synthetic.classes": "10", "data.synthetic.difficulty": "0.3"}, false},
		{"", map[string]string{}, false},
		{"model: [1, 2\n", nil, true},
		{"- a\n- b\n", nil, true},
	}
	for _, tc := range tests {
		got, err := flattenConfig([]byte(tc.text))
		if (err != nil) != tc.err || !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("flattenConfig(%q) = %v, %v; want %v (error %v)", tc.text, got, err, tc.want, tc.err)
		}
	}
}

// A config.yaml that does not parse is reported, and the run still counts with summary.json's settings.
func TestLoadBadConfig(t *testing.T) {
	root := t.TempDir()
	writeHandRuns(t, root, handRun{dir: "d/ca/seed1", variant: "ca", seed: 1, top1: 0.5, root: "data/d", classes: 3})
	write(t, filepath.Join(root, "d/ca/seed1/config.yaml"), "model: [\n")
	runs, problems, err := Load(root)
	if err != nil || len(runs) != 1 || len(problems) != 1 || !strings.HasSuffix(problems[0].Path, "config.yaml") ||
		!strings.Contains(problems[0].Err.Error(), "summary.json alone") {
		t.Fatalf("runs %+v, problems %v, err %v", runs, problems, err)
	}
	if s := settingsOf(runs[0]); s[keyRoot] != "data/d" || s[keyDepth] != "18" || runs[0].Name != "d" {
		t.Errorf("settings %v, name %q", s, runs[0].Name)
	}
}

func TestFinalTop1(t *testing.T) {
	epochs := func(n int, last float64) []Epoch {
		var e []Epoch
		for i := 1; i <= n; i++ {
			e = append(e, Epoch{Epoch: i, TestTop1: math.NaN()})
		}
		if last >= 0 {
			e[n-1].TestTop1 = last
		}
		return e
	}
	nan := math.NaN()
	tests := []struct {
		name string
		s    Summary
		e    []Epoch
		want float64 // NaN: unknown
		why  string  // in the reason
	}{
		{"selection last", Summary{Selection: "last", Epochs: 5, BestEpoch: 5, TestTop1: 0.4, FinalTestTop1: nan}, epochs(5, 0.4), 0.4, ""},
		{"best_val chose the last epoch", Summary{Selection: "best_val", Epochs: 5, BestEpoch: 5, TestTop1: 0.4, FinalTestTop1: nan}, epochs(5, 0.4), 0.4, ""},
		{"the last epoch without metrics", Summary{Selection: "best_val", Epochs: 5, BestEpoch: 5, TestTop1: 0.4, FinalTestTop1: nan}, nil, 0.4, ""},
		{"best_val chose an earlier epoch", Summary{Selection: "best_val", Epochs: 5, BestEpoch: 3, TestTop1: 0.4, FinalTestTop1: nan}, epochs(5, 0.4), nan, "earlier epoch"},
		{"an earlier epoch, and the final one recorded", Summary{Selection: "best_val", Epochs: 5, BestEpoch: 3, TestTop1: 0.4, FinalTestTop1: 0.35}, epochs(5, 0.4), 0.35, ""},
		{"no best_epoch", Summary{Selection: "best_val", Epochs: 5, TestTop1: 0.4, FinalTestTop1: nan}, epochs(5, 0.4), nan, "no best_epoch"},
		{"epochs from metrics", Summary{Selection: "best_val", BestEpoch: 4, TestTop1: 0.4, FinalTestTop1: nan}, epochs(4, 0.4), 0.4, ""},
	}
	for _, tc := range tests {
		got, why := FinalTop1(Run{Summary: tc.s, Epochs: tc.e})
		if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) || tc.why == "" && why != "" || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}

func TestAppliesTo(t *testing.T) {
	keys := []string{"model.gate_form", "model.gate_init_logit", "model.csca_fusion", "model.reduction", "model.attention_stages", "model.depth"}
	want := map[string][]bool{
		"none": {false, false, false, false, false, true},
		"fcn":  {false, false, false, false, false, true},
		"ca":   {true, true, false, true, true, true},
		"sa":   {true, true, false, false, true, true},
		"csca": {true, true, true, true, true, true},
		"bam":  {true, true, true, true, true, true},
	}
	for v, w := range want {
		for i, k := range keys {
			if got := appliesTo(v, k); got != w[i] {
				t.Errorf("appliesTo(%s, %s) = %v", v, k, got)
			}
		}
	}
}

// A generated dataset is its generator's settings: a pretraining set and a fine-grained set made in one
// root with one class count are two rows.
func TestGeneratedDatasets(t *testing.T) {
	root := t.TempDir()
	for i, first := range []int{0, 100} {
		for seed := int64(1); seed <= 2; seed++ {
			writeHandRuns(t, root, handRun{dir: fmt.Sprintf("sweep%d/synthetic/none/seed%d", i, seed), variant: "none", seed: seed,
				top1: 0.3 + 0.2*float64(i), root: "data/synth", classes: 20, summary: map[string]any{"dataset": "synthetic"},
				keys: map[string]any{"data.format": "synthetic", "data.synthetic.first_class": first, "data.synthetic.classes": 20}})
		}
	}
	tab, md := tableMarkdown(t, root)
	var names []string
	for _, r := range tab.Rows {
		names = append(names, r.Dataset)
	}
	want := []string{
		"synthetic (data/synth, 20 classes) [data.synthetic.classes=20 data.synthetic.difficulty=0.5 data.synthetic.first_class=0 data.synthetic.image_size=128 data.synthetic.per_class=60 data.synthetic.seed=1 data.synthetic.train_fraction=0.5]",
		"synthetic (data/synth, 20 classes) [data.synthetic.classes=20 data.synthetic.difficulty=0.5 data.synthetic.first_class=100 data.synthetic.image_size=128 data.synthetic.per_class=60 data.synthetic.seed=1 data.synthetic.train_fraction=0.5]",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("rows %q, want %q\n%s", names, want, md)
	}
	if len(tab.ColumnKeys)+len(tab.RowKeys) != 0 {
		t.Errorf("settings differ: %q %q", tab.ColumnKeys, tab.RowKeys)
	}
}
