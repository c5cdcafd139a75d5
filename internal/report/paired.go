package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Difference is a paired comparison over seeds: for each seed, a column's test top-1 minus that of
// ResNet (none) with the same seed, dataset and settings, in percentage points. Pairing by seed takes
// out what both runs of a seed share (initial weights of the common layers, data order, augmentation),
// which an unpaired difference of means leaves in its noise.
type Difference struct {
	Seeds []int64   // the seeds paired, ascending
	Diffs []float64 // the difference of each seed, in points
	Mean  float64   // the mean of Diffs; NaN when no seed pairs
	SE    float64   // its standard error: the sample standard deviation of Diffs over √n; NaN for n < 2
	Notes []string  // the seeds left out, and why
}

// N is the number of seeds paired.
func (d *Difference) N() int { return len(d.Diffs) }

// Text is "+mean ± SE (n)" with two decimals, "+mean (1)" for one seed, "—" for none.
func (d *Difference) Text() string {
	switch d.N() {
	case 0:
		return "—"
	case 1:
		return fmt.Sprintf("%+.2f (1)", d.Mean)
	}
	return fmt.Sprintf("%+.2f ± %.2f (%d)", d.Mean, d.SE, d.N())
}

// Paired compares one column of one row with the ResNet (none) column of the same settings.
type Paired struct {
	Row      int // index in Table.Rows
	Column   int // index in Table.Columns
	Baseline int // the none column, −1 when the row has no none run of the column's settings
	// Selected compares summary.json's test_top1: the model train.selection chose (best_val: the epoch
	// with the best validation top-1; last: the last epoch).
	Selected Difference
	// Final compares the models of the last epoch (FinalTop1).
	Final Difference
}

// PairedDifferences compares every column other than none that has runs with the none column of its
// row whose settings agree in every key that applies to none, seed by seed, in test top-1 whatever
// Table.Metric is. Runs of one seed in one cell are averaged, with a note.
func (t *Table) PairedDifferences() []Paired {
	var out []Paired
	for ri, row := range t.Rows {
		if len(row.groups) != len(t.Columns) {
			continue // a row NewTable did not make: it has no runs to pair
		}
		for ci, col := range t.Columns {
			if col.Variant == none || len(row.groups[ci]) == 0 {
				continue
			}
			p := Paired{Row: ri, Column: ci, Baseline: t.baseline(row, ci)}
			if p.Baseline < 0 {
				note := col.Title + ": no " + VariantTitle(none, 0) + " run with the same dataset and settings to pair with"
				p.Selected = Difference{Mean: math.NaN(), SE: math.NaN(), Notes: []string{note}}
				p.Final = Difference{Mean: math.NaN(), SE: math.NaN(), Notes: []string{note}}
				out = append(out, p)
				continue
			}
			a, b := row.groups[ci], row.groups[p.Baseline]
			at, bt := t.Columns[ci].Title, t.Columns[p.Baseline].Title
			selected := func(r Run) (float64, string) { return r.Summary.TestTop1, "" }
			p.Selected = pair(a, b, at, bt, selected)
			p.Final = pair(a, b, at, bt, FinalTop1)
			out = append(out, p)
		}
	}
	return out
}

// baseline is the none column that has runs in row and agrees with column ci in every setting that
// applies to none, or −1.
func (t *Table) baseline(row Row, ci int) int {
	c := t.Columns[ci]
	for bi, b := range t.Columns {
		if b.Variant != none || len(row.groups[bi]) == 0 {
			continue
		}
		alike := true
		for _, k := range t.ColumnKeys {
			if appliesTo(none, k) && c.Settings[k] != b.Settings[k] {
				alike = false
			}
		}
		if alike {
			return bi
		}
	}
	return -1
}

// perSeed is the mean per seed of value over runs (a fraction), in points, with notes on the runs
// without a value and on seeds with several runs.
func perSeed(runs []Run, title string, value func(Run) (float64, string)) (map[int64]float64, []string) {
	sum, n := map[int64]float64{}, map[int64]int{}
	runsOf := map[int64]int{}
	missing := map[string][]int64{} // reason -> seeds
	for _, r := range runs {
		s := r.Summary.Seed
		runsOf[s]++
		v, why := value(r)
		if math.IsNaN(v) {
			missing[why] = append(missing[why], s)
			continue
		}
		sum[s] += 100 * v
		n[s]++
	}
	var notes []string
	for _, why := range slices.Sorted(maps.Keys(missing)) {
		notes = append(notes, fmt.Sprintf("%s, %s: %s", title, seedsText(missing[why]), why))
	}
	means := map[int64]float64{}
	for _, s := range slices.Sorted(maps.Keys(sum)) {
		means[s] = sum[s] / float64(n[s])
		if n[s] > 1 {
			notes = append(notes, fmt.Sprintf("%s, seed %d: %d runs averaged", title, s, n[s]))
		}
	}
	return means, notes
}

func seedsText(seeds []int64) string {
	seeds = slices.Compact(slices.Sorted(slices.Values(seeds)))
	word := "seed"
	if len(seeds) > 1 {
		word = "seeds"
	}
	return word + " " + join(seeds)
}

// pair is the Difference of runs a (column title at) minus runs b (title bt) in value.
func pair(a, b []Run, at, bt string, value func(Run) (float64, string)) Difference {
	va, na := perSeed(a, at, value)
	vb, nb := perSeed(b, bt, value)
	d := Difference{Notes: append(na, nb...)}
	var unpaired []int64
	for _, s := range slices.Sorted(maps.Keys(va)) {
		y, ok := vb[s]
		if !ok {
			unpaired = append(unpaired, s)
			continue
		}
		d.Seeds = append(d.Seeds, s)
		d.Diffs = append(d.Diffs, va[s]-y)
	}
	if len(unpaired) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%s, %s: no %s value of the same seed to pair with", at, seedsText(unpaired), bt))
	}
	d.Mean, d.SE = math.NaN(), math.NaN()
	if n := len(d.Diffs); n > 0 {
		var sd float64
		d.Mean, sd = meanStd(d.Diffs)
		d.SE = sd / math.Sqrt(float64(n))
	}
	return d
}

// PairedMarkdown writes pairs (of PairedDifferences) as a table, one line per dataset and column, with
// its legend and the notes on seeds left out.
func (t *Table) PairedMarkdown(w io.Writer, pairs []Paired) error {
	ew := &errWriter{w: w}
	ew.printf("### Paired differences to %s (none): test top-1 (percentage points)\n\n", VariantTitle(none, t.Depth))
	if len(pairs) == 0 {
		ew.printf("No run of an attention variant to compare.\n")
		return ew.err
	}
	baselines := map[int]bool{}
	for _, p := range pairs {
		if p.Baseline >= 0 {
			baselines[p.Baseline] = true
		}
	}
	withBaseline := len(baselines) > 1 // otherwise the title names it
	head := []string{"dataset", "variant"}
	if withBaseline {
		head = append(head, "paired with")
	}
	head = append(head, "selected checkpoint", "final epoch")
	writeMarkdownRow(ew, head)
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(head)))
	var notes []string
	for _, p := range pairs {
		row, col := t.Rows[p.Row], t.Columns[p.Column]
		cells := []string{DatasetTitle(row.Dataset), col.Title}
		if withBaseline {
			base := "—"
			if p.Baseline >= 0 {
				base = t.Columns[p.Baseline].Title
			}
			cells = append(cells, base)
		}
		final := p.Final.Text()
		if p.Final.N() == 0 && p.Baseline >= 0 {
			final = "not recorded"
		}
		writeMarkdownRow(ew, append(cells, p.Selected.Text(), final))
		// The notes of both comparisons repeat what the runs lack in common; the final epoch's add why
		// a run has no final result.
		for _, n := range p.Selected.Notes {
			notes = append(notes, DatasetTitle(row.Dataset)+": "+n)
		}
		for _, n := range p.Final.Notes {
			if !slices.Contains(p.Selected.Notes, n) {
				notes = append(notes, DatasetTitle(row.Dataset)+", final epoch: "+n)
			}
		}
	}
	// A note on ResNet's runs holds for every variant paired with them: once is enough.
	var once []string
	for _, n := range notes {
		if !slices.Contains(once, n) {
			once = append(once, n)
		}
	}
	notes = once
	ew.printf("\nEach cell: the mean over seeds of the difference variant − %s, each seed's run paired with the %s run "+
		"of the same seed, dataset and settings, ± its standard error (sample standard deviation of the per-seed "+
		"differences over √n), with the number of seeds paired n in parentheses (no ± for one). "+
		"Selected checkpoint: summary.json's test_top1, the model train.selection chose (best_val: the epoch with the best "+
		"validation top-1, on the validation images the settings above state; last: the last epoch). "+
		"Final epoch: the model of the last epoch.\n", VariantTitle(none, 0), VariantTitle(none, 0))
	if len(notes) > 0 {
		ew.printf("\nNotes:\n")
		for _, n := range notes {
			ew.printf("- %s\n", n)
		}
	}
	return ew.err
}

// PairedCSV writes pairs (of PairedDifferences), one line per dataset and column: for the selected
// checkpoint and for the final epoch the number of seeds paired, the mean difference and its standard
// error (points, empty where unknown), the seeds and each seed's difference (space-separated); then the
// notes.
func (t *Table) PairedCSV(w io.Writer, pairs []Paired) error {
	cw := csv.NewWriter(w)
	head := []string{"dataset", "format", "data_root", "classes", "column", "variant", "baseline"}
	for _, k := range []string{"selected", "final"} {
		head = append(head, k+"_n", k+"_mean_diff", k+"_se", k+"_seeds", k+"_diffs")
	}
	cw.Write(append(head, "notes"))
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	for _, p := range pairs {
		row, col := t.Rows[p.Row], t.Columns[p.Column]
		classes, base := "", ""
		if row.Classes > 0 {
			classes = strconv.Itoa(row.Classes)
		}
		if p.Baseline >= 0 {
			base = t.Columns[p.Baseline].ID
		}
		rec := []string{row.Dataset, row.Format, row.Root, classes, col.ID, col.Variant, base}
		var notes []string
		for _, d := range []Difference{p.Selected, p.Final} {
			diffs := make([]string, len(d.Diffs))
			for i, x := range d.Diffs {
				diffs[i] = f(x)
			}
			seeds := make([]string, len(d.Seeds))
			for i, s := range d.Seeds {
				seeds[i] = strconv.FormatInt(s, 10)
			}
			rec = append(rec, strconv.Itoa(d.N()), f(d.Mean), f(d.SE), strings.Join(seeds, " "), strings.Join(diffs, " "))
			for _, n := range d.Notes {
				if !slices.Contains(notes, n) {
					notes = append(notes, n)
				}
			}
		}
		cw.Write(append(rec, strings.Join(notes, "; ")))
	}
	cw.Flush()
	return cw.Error()
}
