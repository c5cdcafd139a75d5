package report

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pairedFixture writes one dataset with hand-picked accuracies whose paired differences are worked out
// by hand in TestPairedDifferences:
//
//	seed            1     2     3     4
//	none           50    55    60     —    selection last: final = selected
//	csca           52    59    66     —    best epochs 5, 3, 2 of 5; seed 2 records final_test_top1 51
//	sa             51    57     —    70    selection last
//	fcn (2 runs)   50,54  —     —     —    seed 1 in two sweeps: averaged to 52
func pairedFixture(t *testing.T) string {
	root := t.TempDir()
	last := map[string]any{"selection": "last"}
	runs := []handRun{
		{dir: "sw/d/none/seed1", variant: "none", seed: 1, top1: 0.50, summary: last, epochs: 5, last: 0.50},
		{dir: "sw/d/none/seed2", variant: "none", seed: 2, top1: 0.55, summary: last, epochs: 5, last: 0.55},
		{dir: "sw/d/none/seed3", variant: "none", seed: 3, top1: 0.60, summary: last, epochs: 5, last: 0.60},
		{dir: "sw/d/csca/seed1", variant: "csca", seed: 1, top1: 0.52, epochs: 5, last: 0.52},
		{dir: "sw/d/csca/seed2", variant: "csca", seed: 2, top1: 0.59, summary: map[string]any{"best_epoch": 3, "final_test_top1": 0.51}, epochs: 5, last: 0.59},
		{dir: "sw/d/csca/seed3", variant: "csca", seed: 3, top1: 0.66, summary: map[string]any{"best_epoch": 2}, epochs: 5, last: 0.66},
		{dir: "sw/d/sa/seed1", variant: "sa", seed: 1, top1: 0.51, summary: last, epochs: 5, last: 0.51},
		{dir: "sw/d/sa/seed2", variant: "sa", seed: 2, top1: 0.57, summary: last, epochs: 5, last: 0.57},
		{dir: "sw/d/sa/seed4", variant: "sa", seed: 4, top1: 0.70, summary: last, epochs: 5, last: 0.70},
		{dir: "sw/d/fcn/seed1", variant: "fcn", seed: 1, top1: 0.50, summary: last, epochs: 5, last: 0.50},
		{dir: "sw2/d/fcn/seed1", variant: "fcn", seed: 1, top1: 0.54, summary: last, epochs: 5, last: 0.54},
	}
	for i := range runs {
		runs[i].root, runs[i].classes = "data/d", 7
	}
	writeHandRuns(t, root, runs...)
	return root
}

func TestPairedDifferences(t *testing.T) {
	root := pairedFixture(t)
	tab, _ := tableMarkdown(t, root)
	type diff struct {
		seeds []int64
		diffs []float64
		mean  float64
		se    float64 // NaN for one seed
		text  string
		notes []string // substrings, one per note
	}
	nan := math.NaN()
	want := map[string][2]diff{ // column title -> selected, final
		// 2, 4, 6: mean 4, sd 2, SE 2/√3
		"CSCA-ResNet18": {{[]int64{1, 2, 3}, []float64{2, 4, 6}, 4, 2 / math.Sqrt(3), "+4.00 ± 1.15 (3)", nil},
			// seed 1 final = selected (52 − 50), seed 2 final_test_top1 (51 − 55), seed 3 unknown: 2, −4: mean −1, sd √18, SE 3
			{[]int64{1, 2}, []float64{2, -4}, -1, 3, "-1.00 ± 3.00 (2)", []string{"CSCA-ResNet18, seed 3: the model of an earlier epoch"}}},
		// 1, 2 (seed 4 has no ResNet): mean 1.5, sd √0.5, SE 0.5
		"SA-ResNet18": {{[]int64{1, 2}, []float64{1, 2}, 1.5, 0.5, "+1.50 ± 0.50 (2)", []string{"SA-ResNet18, seed 4: no ResNet18 value"}},
			{[]int64{1, 2}, []float64{1, 2}, 1.5, 0.5, "+1.50 ± 0.50 (2)", []string{"SA-ResNet18, seed 4: no ResNet18 value"}}},
		// (50 + 54)/2 − 50
		"FCN-ResNet18": {{[]int64{1}, []float64{2}, 2, nan, "+2.00 (1)", []string{"FCN-ResNet18, seed 1: 2 runs averaged"}},
			{[]int64{1}, []float64{2}, 2, nan, "+2.00 (1)", []string{"FCN-ResNet18, seed 1: 2 runs averaged"}}},
	}
	pairs := tab.PairedDifferences()
	if len(pairs) != len(want) {
		t.Fatalf("%d pairs, want %d: %+v", len(pairs), len(want), pairs)
	}
	close := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 || math.IsNaN(a) && math.IsNaN(b) }
	for _, p := range pairs {
		title := tab.Columns[p.Column].Title
		w, ok := want[title]
		if !ok || tab.Columns[p.Baseline].Title != "ResNet18" {
			t.Errorf("pair %s with %d", title, p.Baseline)
			continue
		}
		for k, d := range []Difference{p.Selected, p.Final} {
			w := w[k]
			if !reflect.DeepEqual(d.Seeds, w.seeds) || len(d.Diffs) != len(w.diffs) || !close(d.Mean, w.mean) || !close(d.SE, w.se) || d.Text() != w.text {
				t.Errorf("%s %d: %+v, want %+v", title, k, d, w)
				continue
			}
			for i := range d.Diffs {
				if !close(d.Diffs[i], w.diffs[i]) {
					t.Errorf("%s %d: diffs %v, want %v", title, k, d.Diffs, w.diffs)
				}
			}
			if len(d.Notes) != len(w.notes) {
				t.Errorf("%s %d: notes %q, want %q", title, k, d.Notes, w.notes)
				continue
			}
			for i, n := range w.notes {
				if !strings.Contains(d.Notes[i], n) {
					t.Errorf("%s %d: note %q, want %q", title, k, d.Notes[i], n)
				}
			}
		}
	}
}

// report.md and paired.csv carry the paired differences.
func TestPairedReport(t *testing.T) {
	root := pairedFixture(t)
	out := t.TempDir()
	res, err := Generate(root, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	md := string(res.Markdown)
	for _, want := range []string{
		"### Paired differences to ResNet18 (none): test top-1 (percentage points)",
		"| d | FCN-ResNet18 | +2.00 (1) | +2.00 (1) |",
		"| d | SA-ResNet18 | +1.50 ± 0.50 (2) | +1.50 ± 0.50 (2) |",
		"| d | CSCA-ResNet18 | +4.00 ± 1.15 (3) | -1.00 ± 3.00 (2) |",
		"- d, final epoch: CSCA-ResNet18, seed 3: the model of an earlier epoch was selected (best_val)",
		"| d | folder | data/d | 7 | 11 |",
		"| 40 / 8 / 40 |", // the validation split's size
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "seed 4: no ResNet18 value"); n != 1 {
		t.Errorf("the note on seed 4 is there %d times:\n%s", n, md)
	}
	f, err := os.Open(filepath.Join(out, "paired.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("paired.csv: %q", recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	got := map[string][]string{}
	for _, r := range recs[1:] {
		got[r[col["column"]]] = []string{r[col["baseline"]], r[col["selected_n"]], r[col["selected_mean_diff"]], r[col["selected_se"]],
			r[col["selected_diffs"]], r[col["final_n"]], r[col["final_mean_diff"]], r[col["final_se"]], r[col["final_seeds"]], r[col["data_root"]]}
	}
	wantCSV := map[string][]string{
		"fcn":  {"none", "1", "2.0000", "", "2.0000", "1", "2.0000", "", "1", "data/d"},
		"sa":   {"none", "2", "1.5000", "0.5000", "1.0000 2.0000", "2", "1.5000", "0.5000", "1 2", "data/d"},
		"csca": {"none", "3", "4.0000", "1.1547", "2.0000 4.0000 6.0000", "2", "-1.0000", "3.0000", "1 2", "data/d"},
	}
	if !reflect.DeepEqual(got, wantCSV) {
		t.Errorf("paired.csv\n got %q\nwant %q", got, wantCSV)
	}
}

// Each variant is paired with the ResNet of its own settings; one without any says so.
func TestPairedWithinSettings(t *testing.T) {
	root := t.TempDir()
	var runs []handRun
	for seed := int64(1); seed <= 2; seed++ {
		for i, g := range []struct {
			variant string
			width   float64
			top1    float64
		}{{"none", 0.5, 0.40}, {"none", 1, 0.50}, {"ca", 0.5, 0.43}, {"ca", 1, 0.51}, {"sa", 0.25, 0.3}} {
			runs = append(runs, handRun{dir: fmt.Sprintf("sweep%d/d/%s/seed%d", i, g.variant, seed),
				variant: g.variant, seed: seed, top1: g.top1 + 0.01*float64(seed), root: "data/d", classes: 3,
				keys: map[string]any{"model.width_multiplier": g.width}})
		}
	}
	writeHandRuns(t, root, runs...)
	tab, _ := tableMarkdown(t, root)
	got := map[string]string{}
	for _, p := range tab.PairedDifferences() {
		base := "none"
		if p.Baseline >= 0 {
			base = tab.Columns[p.Baseline].Title
		}
		got[tab.Columns[p.Column].Title] = base + " " + p.Selected.Text()
	}
	want := map[string]string{
		"CA-ResNet18 (×0.5)":  "ResNet18 (×0.5) +3.00 ± 0.00 (2)",
		"CA-ResNet18 (×1)":    "ResNet18 (×1) +1.00 ± 0.00 (2)",
		"SA-ResNet18 (×0.25)": "none —",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %q, want %q", got, want)
	}
}
