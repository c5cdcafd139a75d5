package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/nets"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeRun describes a run directory to write.
type fakeRun struct {
	dataset, variant string
	seed             int64
	top1             float64
	noDataset        bool // summary.json without dataset, attention, seed (the path says them) and sizes
	bestEpoch        int  // of 3 epochs; 0 means 3
}

// writeRun writes RUN/summary.json, RUN/config.yaml and a three-epoch RUN/metrics.jsonl below root in the
// sweep's layout, as package train writes them.
func writeRun(t *testing.T, root string, r fakeRun) string {
	t.Helper()
	dir := filepath.Join(root, r.dataset, r.variant, fmt.Sprintf("seed%d", r.seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	best := cmp.Or(r.bestEpoch, 3)
	s := map[string]any{
		"num_classes": 10, "test_top1": r.top1, "test_top5": math.Min(1, r.top1+0.2), "test_mean_class_acc": r.top1 - 0.01,
		"val_top1": r.top1 + 0.01, "epochs": 3, "best_epoch": best, "wall_seconds": 100 + float64(r.seed), "images_per_second": 50.5,
		"attention": r.variant, "dataset": r.dataset, "data_root": "data/" + r.dataset, "seed": r.seed, "selection": "best_val", "depth": 18,
		"image_size": 64, "params": 11000000, "width_multiplier": 0.5, "train_images": 90, "val_images": 10, "test_images": 100,
	}
	if r.noDataset {
		delete(s, "dataset")
		delete(s, "data_root")
		delete(s, "attention")
		delete(s, "seed")
		// as written before summaries recorded them
		delete(s, "width_multiplier")
		delete(s, "train_images")
		delete(s, "val_images")
		delete(s, "test_images")
		delete(s, "best_epoch")
	}
	b, _ := json.Marshal(s)
	write(t, filepath.Join(dir, "summary.json"), string(b))
	// The keys that matter here, and some that differ between runs without making them unlike.
	write(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`model:
  attention: %s
  depth: 18
  width_multiplier: 0.5
  gate_form: residual
  csca_fusion: parallel
  attention_stages: null
  pretrained: ""
data:
  format: %s
  root: data/%s
  image_size: 64
  workers: %d
train:
  seed: %d
  epochs: 3
  lr: 0.002
  selection: best_val
run:
  dir: %s
`, r.variant, r.dataset, r.dataset, r.seed, r.seed, dir))
	var m strings.Builder
	for e := 1; e <= 3; e++ {
		line := map[string]any{"epoch": e, "step": 10 * e, "train_loss": 3 / float64(e) * (1 - r.top1/2),
			"train_top1": r.top1 * float64(e) / 3, "val_top1": (r.top1 + 0.01) * float64(e) / 3}
		if e == 3 {
			line["test_top1"] = r.top1 // the selected model's, as train writes it
		}
		b, _ := json.Marshal(line)
		m.Write(b)
		m.WriteByte('\n')
	}
	write(t, filepath.Join(dir, "metrics.jsonl"), m.String())
	return dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sweepFixture writes a sweep with complete, partial and broken runs and returns its root.
func sweepFixture(t *testing.T) string {
	root := t.TempDir()
	top1 := map[string]float64{"none": 0.50, "fcn": 0.51, "ca": 0.55, "sa": 0.53, "csca": 0.60}
	seeds := map[string]int64{"none": 3, "fcn": 3, "ca": 2, "sa": 1, "csca": 3}
	for _, v := range nets.Variants() {
		for s := int64(1); s <= seeds[v]; s++ {
			// csca seed 2 selected an earlier epoch: its final epoch is unknown
			writeRun(t, root, fakeRun{dataset: "synthetic", variant: v, seed: s, top1: top1[v] + 0.02*float64(s-1), bestEpoch: map[bool]int{true: 2}[v == "csca" && s == 2]})
		}
	}
	writeRun(t, root, fakeRun{dataset: "cub", variant: "none", seed: 1, top1: 0.80})
	writeRun(t, root, fakeRun{dataset: "cub", variant: "csca", seed: 1, top1: 0.845, noDataset: true})
	// unfinished, corrupt, incomplete
	write(t, filepath.Join(root, "synthetic/sa/seed2/config.yaml"), "model: {}\n")
	write(t, filepath.Join(root, "synthetic/sa/seed3/summary.json"), `{"test_top1": 0.5,`)
	write(t, filepath.Join(root, "cub/ca/seed1/summary.json"), `{"dataset": "cub", "attention": "ca", "seed": 1}`)
	// a bad line in one run's metrics: the run counts, the line is reported
	bad := filepath.Join(root, "synthetic/fcn/seed3/metrics.jsonl")
	f, err := os.OpenFile(bad, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{not json\n")
	f.Close()
	return root
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGenerate(t *testing.T) {
	root := sweepFixture(t)
	out := filepath.Join(t.TempDir(), "report")
	res, err := Generate(root, out, Options{Paper: true, Plots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 14 {
		t.Errorf("%d runs, want 14", len(res.Runs))
	}
	var problems []string
	for _, p := range res.Problems {
		rel, _ := filepath.Rel(root, p.Path)
		problems = append(problems, filepath.ToSlash(rel))
	}
	wantProblems := []string{"cub/ca/seed1/summary.json", "synthetic/fcn/seed3/metrics.jsonl:4",
		"synthetic/sa/seed2/summary.json", "synthetic/sa/seed3/summary.json"}
	if !reflect.DeepEqual(problems, wantProblems) {
		t.Errorf("problems %q, want %q", problems, wantProblems)
	}
	for _, name := range []string{"report.md", "table.csv", "paired.csv", "runs.csv"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name, b)
	}
	for _, name := range []string{"accuracy.png", "curves_cub.png", "curves_synthetic.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
			t.Errorf("%s is %v", name, b)
		}
	}
	if len(res.Files) != 7 {
		t.Errorf("files %q, want 3 plots and 4 reports", res.Files)
	}
}

func TestTableCells(t *testing.T) {
	root := sweepFixture(t)
	runs, _, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, metric := range Metrics {
		tab, err := NewTable(runs, metric)
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) != 2 || tab.Rows[0].Dataset != "cub" || tab.Rows[1].Dataset != "synthetic" {
			t.Fatalf("rows %+v", tab.Rows)
		}
		// Recompute every cell from the runs.
		for _, row := range tab.Rows {
			bestMean, best := math.Inf(-1), []int(nil)
			for i, v := range tab.Variants {
				var vals []float64
				for _, r := range runs {
					if r.Summary.Dataset == row.Dataset && r.Summary.Attention == v {
						vals = append(vals, 100*metricValue(r.Summary, metric))
					}
				}
				c := row.Cells[i]
				if len(vals) == 0 {
					if c != nil {
						t.Errorf("%s/%s: cell %+v without runs", row.Dataset, v, c)
					}
					continue
				}
				var sum, ss float64
				for _, x := range vals {
					sum += x
				}
				mean := sum / float64(len(vals))
				for _, x := range vals {
					ss += (x - mean) * (x - mean)
				}
				if math.Abs(c.Mean-mean) > 1e-9 || c.N() != len(vals) {
					t.Errorf("%s %s/%s: mean %v n %d, want %v n %d", metric, row.Dataset, v, c.Mean, c.N(), mean, len(vals))
				}
				if len(vals) > 1 && math.Abs(c.Std-math.Sqrt(ss/float64(len(vals)-1))) > 1e-9 {
					t.Errorf("%s %s/%s: std %v", metric, row.Dataset, v, c.Std)
				}
				switch {
				case mean > bestMean:
					bestMean, best = mean, []int{i}
				case mean == bestMean:
					best = append(best, i)
				}
			}
			if filled := len(slices.DeleteFunc(slices.Clone(row.Cells), func(c *Cell) bool { return c == nil })); len(best) == filled {
				best = nil // all tie
			}
			if !reflect.DeepEqual(row.Best, best) {
				t.Errorf("%s %s: best %v, want %v", metric, row.Dataset, row.Best, best)
			}
		}
	}
	if _, err := NewTable(runs, "loss"); err == nil || !strings.Contains(err.Error(), `"loss"`) {
		t.Errorf("unknown metric: err = %v", err)
	}
}

func TestMeanStd(t *testing.T) {
	tests := []struct {
		in        []float64
		mean, std float64
	}{
		{[]float64{1, 2, 3}, 2, 1},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
		{[]float64{7, 7}, 7, 0},
		{[]float64{42}, 42, math.NaN()},
	}
	for _, tc := range tests {
		m, s := meanStd(tc.in)
		if math.Abs(m-tc.mean) > 1e-12 || !(math.Abs(s-tc.std) < 1e-12 || math.IsNaN(s) && math.IsNaN(tc.std)) {
			t.Errorf("meanStd(%v) = %v, %v; want %v, %v", tc.in, m, s, tc.mean, tc.std)
		}
	}
}

func TestTableWarningsAndHeader(t *testing.T) {
	mk := func(d, v string, seed int64, depth int, dir string) Run {
		return Run{Dir: dir, Summary: Summary{Dataset: d, Attention: v, Seed: seed, Depth: depth, TestTop1: 0.5, Epochs: 2, ImageSize: 64, Selection: "last"}}
	}
	tests := []struct {
		name     string
		runs     []Run
		header   string
		warnings []string
		cols     []string
	}{
		{"one depth", []Run{mk("cars", "none", 1, 50, "a"), mk("cars", "sa", 1, 50, "b")},
			"| dataset | ResNet50 | FCN-ResNet50 | CA-ResNet50 | SA-ResNet50 | CSCA-ResNet50 |", nil, nets.Variants()},
		// Runs of unlike depths are never one cell: each depth has its own column, named by it.
		{"mixed depths", []Run{mk("cars", "none", 1, 50, "a"), mk("cars", "sa", 1, 18, "b")},
			"| dataset | ResNet50 | FCN-ResNet | CA-ResNet | SA-ResNet18 | CSCA-ResNet |", nil, nets.Variants()},
		{"mixed depths in one variant", []Run{mk("cars", "none", 1, 50, "a"), mk("cars", "none", 1, 18, "b")},
			"| dataset | ResNet18 | ResNet50 | FCN-ResNet | CA-ResNet | SA-ResNet | CSCA-ResNet |", nil, append([]string{"none"}, nets.Variants()...)},
		{"repeated seed, unknown variant", []Run{mk("dogs", "none", 1, 18, "x/a"), mk("dogs", "none", 1, 18, "y/a"), mk("dogs", "bam", 1, 18, "z")},
			"| dataset | ResNet18 | FCN-ResNet18 | CA-ResNet18 | SA-ResNet18 | CSCA-ResNet18 | BAM-ResNet18 |",
			[]string{"dogs: none seed 1 has 2 runs (x/a, y/a); all are counted"}, append(append([]string{}, nets.Variants()...), "bam")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := NewTable(tc.runs, "test_top1")
			if err != nil {
				t.Fatal(err)
			}
			var md bytes.Buffer
			if err := tab.Markdown(&md); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(md.String(), tc.header+"\n") {
				t.Errorf("header missing %q:\n%s", tc.header, md.String())
			}
			if !reflect.DeepEqual(tab.Warnings, tc.warnings) {
				t.Errorf("warnings %q, want %q", tab.Warnings, tc.warnings)
			}
			if !reflect.DeepEqual(tab.Variants, tc.cols) {
				t.Errorf("columns %q, want %q", tab.Variants, tc.cols)
			}
			for _, w := range tc.warnings {
				if !strings.Contains(md.String(), "- "+w+"\n") {
					t.Errorf("markdown lacks warning %q", w)
				}
			}
		})
	}
}

// TestLoadBadFiles: whatever a summary.json or metrics.jsonl holds, Load reports it with its path and
// never panics.
func TestLoadBadFiles(t *testing.T) {
	tests := []struct {
		name, summary, metrics string
		problem                string // in the problem's error; empty means the run loads
	}{
		{"empty", "", "", "parse"},
		{"null", "null", "", "no test_top1"},
		{"array", "[1, 2]", "", "parse"},
		{"wrong type", `{"test_top1": "high"}`, "", "parse"},
		{"binary", "\x00\xff\xfe{", "", "parse"},
		{"no test_top1", `{"dataset": "d", "attention": "ca", "seed": 1}`, "", "no test_top1"},
		{"good", `{"dataset": "d", "attention": "ca", "seed": 1, "test_top1": 0.5}`, "", ""},
		{"good without metrics lines", `{"test_top1": 0.5}`, "\n\n", ""},
		{"metrics without epoch", `{"test_top1": 0.5}`, `{"train_loss": 1}` + "\n", "no epoch"},
		{"metrics garbage", `{"test_top1": 0.5}`, "\x00\x01\n", "parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "d", "ca", "seed1")
			write(t, filepath.Join(dir, "summary.json"), tc.summary)
			if tc.metrics != "" {
				write(t, filepath.Join(dir, "metrics.jsonl"), tc.metrics)
			}
			runs, problems, err := Load(root)
			if err != nil {
				t.Fatal(err)
			}
			if tc.problem == "" {
				if len(runs) != 1 || len(problems) != 0 {
					t.Fatalf("runs %+v, problems %v", runs, problems)
				}
				if s := runs[0].Summary; s.Dataset != "d" || s.Attention != "ca" || s.Seed != 1 {
					t.Errorf("summary %+v", s)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0].Err.Error(), tc.problem) || !strings.HasPrefix(problems[0].Path, dir) {
				t.Fatalf("problems %v, want one in %s saying %q", problems, dir, tc.problem)
			}
			if _, err := Generate(root, t.TempDir(), Options{Plots: true}); err != nil {
				t.Errorf("Generate: %v", err)
			}
		})
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing directory: no error")
	}
}

func TestFormatDuration(t *testing.T) {
	for sec, want := range map[float64]string{0: "0s", 59.4: "59s", 61: "1m01s", 3600: "1h00m00s", 3*3600 + 62.6: "3h01m03s"} {
		if got := FormatDuration(sec); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", sec, got, want)
		}
	}
}

// A run trained without a validation split (val_top1 null) counts in the test columns and is left out,
// with a warning, of a validation table.
func TestNoValidation(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "d", "ca", "seed1", "summary.json"), `{"test_top1": 0.5, "val_top1": null}`)
	write(t, filepath.Join(root, "d", "sa", "seed1", "summary.json"), `{"test_top1": 0.4, "val_top1": 0.45}`)
	runs, problems, err := Load(root)
	if err != nil || len(problems) != 0 || len(runs) != 2 {
		t.Fatalf("Load: %v %v %v", runs, problems, err)
	}
	for _, tc := range []struct {
		metric   string
		ca, sa   float64 // cell means; NaN for no cell
		warnings int
	}{
		{"test_top1", 50, 40, 0},
		{"val_top1", math.NaN(), 45, 1},
	} {
		tab, err := NewTable(runs, tc.metric)
		if err != nil {
			t.Fatal(err)
		}
		cells := tab.Rows[0].Cells
		ca, sa := cells[slices.Index(tab.Variants, "ca")], cells[slices.Index(tab.Variants, "sa")]
		if math.IsNaN(tc.ca) != (ca == nil) || ca != nil && ca.Mean != tc.ca || sa == nil || math.Abs(sa.Mean-tc.sa) > 1e-9 {
			t.Errorf("%s: ca %+v sa %+v", tc.metric, ca, sa)
		}
		if len(tab.Warnings) != tc.warnings {
			t.Errorf("%s: warnings %q", tc.metric, tab.Warnings)
		}
	}
}
