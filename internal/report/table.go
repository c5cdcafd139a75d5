package report

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Variants are the paper's columns, in its order: plain ResNet, FCN (CAM), channel, spatial and
// channel-spatial attention.
var Variants = []string{"none", "fcn", "ca", "sa", "csca"}

// Metrics are the summary fields a table can show.
var Metrics = []string{"test_top1", "test_top5", "test_mean_class_acc", "val_top1"}

var metricNames = map[string]string{
	"test_top1":           "test top-1 accuracy",
	"test_top5":           "test top-5 accuracy",
	"test_mean_class_acc": "test mean per-class accuracy",
	"val_top1":            "validation top-1 accuracy",
}

func metricValue(s Summary, metric string) float64 {
	switch metric {
	case "test_top5":
		return s.TestTop5
	case "test_mean_class_acc":
		return s.TestMeanClassAcc
	case "val_top1":
		return s.ValTop1
	}
	return s.TestTop1
}

// Cell is one dataset × variant: the metric of each seed's run, in %.
type Cell struct {
	Values []float64 // in %, ordered by seed
	Seeds  []int64
	Mean   float64
	Std    float64 // sample standard deviation (n − 1); NaN for one run
}

// N is the number of runs.
func (c *Cell) N() int { return len(c.Values) }

// Text is "mean ± std (n)" with two decimals, or "mean (1)" for one run.
func (c *Cell) Text() string {
	if c.N() < 2 {
		return fmt.Sprintf("%.2f (%d)", c.Mean, c.N())
	}
	return fmt.Sprintf("%.2f ± %.2f (%d)", c.Mean, c.Std, c.N())
}

// Settings describe how the runs of a row were trained.
type Settings struct {
	Runs        int
	Seeds       []int64
	Depths      []int
	Widths      []float64 // width multipliers; 0 = not recorded
	Classes     []int
	TrainImages []int // 0 = not recorded
	TestImages  []int
	ImageSizes  []int
	Epochs      []int
	Selections  []string
	WallSeconds float64 // the training time of all the row's runs together
}

// Row is one dataset.
type Row struct {
	Dataset  string
	Cells    []*Cell // one per Table.Variants; nil where no run
	Best     []int   // indices of the cells with the highest mean; none with fewer than two cells or when all tie
	Settings Settings
}

// Table is the paper's Table 1 layout of a set of runs.
type Table struct {
	Metric   string
	Variants []string
	Depth    int // the depth of every run, 0 when they differ
	Rows     []Row
	Warnings []string // runs that do not belong together: repeated seeds, mixed settings within a row
}

// NewTable groups runs by dataset (rows: cub, dogs, cars first, then the others by name) and attention
// variant (columns: Variants, then any other variant by name) and summarises metric over seeds.
func NewTable(runs []Run, metric string) (*Table, error) {
	if _, ok := metricNames[metric]; !ok {
		return nil, fmt.Errorf("metric %q: want one of %s", metric, strings.Join(Metrics, ", "))
	}
	t := &Table{Metric: metric, Variants: slices.Clone(Variants)}
	datasets := map[string][]Run{}
	depths := map[int]bool{}
	for _, r := range runs {
		datasets[r.Summary.Dataset] = append(datasets[r.Summary.Dataset], r)
		depths[r.Summary.Depth] = true
		if !slices.Contains(t.Variants, r.Summary.Attention) {
			t.Variants = append(t.Variants, r.Summary.Attention)
		}
	}
	slices.Sort(t.Variants[len(Variants):])
	if len(depths) == 1 {
		for d := range depths {
			t.Depth = d
		}
	}
	var names []string
	for d := range datasets {
		names = append(names, d)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := datasetOrder(names[i]), datasetOrder(names[j])
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	for _, d := range names {
		t.Rows = append(t.Rows, t.newRow(d, datasets[d]))
	}
	return t, nil
}

func (t *Table) newRow(dataset string, runs []Run) Row {
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].Summary.Seed != runs[j].Summary.Seed {
			return runs[i].Summary.Seed < runs[j].Summary.Seed
		}
		return runs[i].Dir < runs[j].Dir
	})
	row := Row{Dataset: dataset, Cells: make([]*Cell, len(t.Variants))}
	st := &row.Settings
	dirs := map[string][]string{} // variant/seed -> run directories
	for _, r := range runs {
		s := r.Summary
		v := 100 * metricValue(s, t.Metric)
		if math.IsNaN(v) {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s: %s seed %d (%s) has no %s; left out", dataset, s.Attention, s.Seed, r.Dir, t.Metric))
			continue
		}
		i := slices.Index(t.Variants, s.Attention)
		if row.Cells[i] == nil {
			row.Cells[i] = &Cell{}
		}
		c := row.Cells[i]
		c.Values = append(c.Values, v)
		c.Seeds = append(c.Seeds, s.Seed)
		key := fmt.Sprintf("%s seed %d", s.Attention, s.Seed)
		dirs[key] = append(dirs[key], r.Dir)
		st.Runs++
		st.WallSeconds += s.WallSeconds
		st.Seeds = addSorted(st.Seeds, s.Seed)
		st.Depths = addSorted(st.Depths, s.Depth)
		st.Widths = addSorted(st.Widths, s.WidthMultiplier)
		st.Classes = addSorted(st.Classes, s.NumClasses)
		st.TrainImages = addSorted(st.TrainImages, s.TrainImages)
		st.TestImages = addSorted(st.TestImages, s.TestImages)
		st.ImageSizes = addSorted(st.ImageSizes, s.ImageSize)
		st.Epochs = addSorted(st.Epochs, s.Epochs)
		st.Selections = addSorted(st.Selections, s.Selection)
	}
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if len(dirs[k]) > 1 {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s: %s has %d runs (%s); all are counted", dataset, k, len(dirs[k]), strings.Join(dirs[k], ", ")))
		}
	}
	for _, m := range []struct {
		what string
		n    int
		vals string
	}{
		{"depth", len(st.Depths), join(st.Depths)},
		{"width multiplier", len(st.Widths), joinKnown(st.Widths)},
		{"classes", len(st.Classes), join(st.Classes)},
		{"training images", len(st.TrainImages), joinKnown(st.TrainImages)},
		{"test images", len(st.TestImages), joinKnown(st.TestImages)},
		{"image size", len(st.ImageSizes), join(st.ImageSizes)},
		{"epochs", len(st.Epochs), join(st.Epochs)},
		{"model selection", len(st.Selections), join(st.Selections)},
	} {
		if m.n > 1 {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s: runs differ in %s (%s)", dataset, m.what, m.vals))
		}
	}
	filled, best := 0, math.Inf(-1)
	for _, c := range row.Cells {
		if c == nil {
			continue
		}
		filled++
		c.Mean, c.Std = meanStd(c.Values)
		best = max(best, c.Mean)
	}
	if filled >= 2 {
		for i, c := range row.Cells {
			if c != nil && c.Mean == best {
				row.Best = append(row.Best, i)
			}
		}
		if len(row.Best) == filled { // all equal: no best
			row.Best = nil
		}
	}
	return row
}

// meanStd is the mean and the sample standard deviation (n − 1 denominator; NaN for n < 2).
func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

func addSorted[T int | int64 | float64 | string](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func join[T any](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

// joinKnown is join with 0, a value the summaries did not record, written as "?".
func joinKnown[T int | float64](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
		if v == 0 {
			parts[i] = "?"
		}
	}
	return strings.Join(parts, ", ")
}

// datasetOrder puts the paper's datasets first, in its order.
func datasetOrder(name string) int {
	switch canonicalDataset(name) {
	case "cub":
		return 0
	case "dogs":
		return 1
	case "cars":
		return 2
	}
	return 3
}

// canonicalDataset maps the usual spellings of the paper's datasets to cub, dogs and cars.
func canonicalDataset(name string) string {
	n := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(name))
	switch n {
	case "cub", "cub200", "cub2002011", "birds":
		return "cub"
	case "dogs", "stanforddogs":
		return "dogs"
	case "cars", "stanfordcars":
		return "cars"
	case "synthetic", "synth":
		return "synthetic"
	}
	return name
}

// DatasetTitle is the name a table shows for a dataset.
func DatasetTitle(name string) string {
	switch canonicalDataset(name) {
	case "cub":
		return "CUB-200-2011"
	case "dogs":
		return "Stanford Dogs"
	case "cars":
		return "Stanford Cars"
	case "synthetic":
		return "Synthetic (generated)"
	}
	return name
}

// VariantTitle is the paper's column name of a variant on a ResNet of the given depth (0: unknown).
func VariantTitle(variant string, depth int) string {
	net := "ResNet"
	if depth > 0 {
		net += strconv.Itoa(depth)
	}
	if variant == "none" {
		return net
	}
	return strings.ToUpper(variant) + "-" + net
}

func (t *Table) header() []string {
	h := []string{"dataset"}
	for _, v := range t.Variants {
		h = append(h, VariantTitle(v, t.Depth))
	}
	return h
}

// Markdown writes the table, its legend, the settings of each row and the warnings.
func (t *Table) Markdown(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("### %s (%%)\n\n", capitalize(metricNames[t.Metric]))
	writeMarkdownRow(ew, t.header())
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(t.Variants)+1))
	for _, r := range t.Rows {
		cells := []string{DatasetTitle(r.Dataset)}
		for i, c := range r.Cells {
			text := "—"
			if c != nil {
				text = c.Text()
			}
			if slices.Contains(r.Best, i) {
				text = "**" + text + "**"
			}
			cells = append(cells, text)
		}
		writeMarkdownRow(ew, cells)
	}
	ew.printf("\nEach cell: mean ± sample standard deviation (n − 1 denominator) of the %s over seeds, in %%, "+
		"with the number of seeds n in parentheses (no ± for a single seed). Bold: the best mean of the row.\n\n", metricNames[t.Metric])
	header := []string{"dataset", "runs", "seeds", "depth", "width", "classes", "train / test images", "image size",
		"epochs", "model selection", "training time (all runs)"}
	writeMarkdownRow(ew, header)
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(header)))
	for _, r := range t.Rows {
		s := r.Settings
		writeMarkdownRow(ew, []string{DatasetTitle(r.Dataset), strconv.Itoa(s.Runs), join(s.Seeds), join(s.Depths),
			joinKnown(s.Widths), join(s.Classes), joinKnown(s.TrainImages) + " / " + joinKnown(s.TestImages),
			join(s.ImageSizes), join(s.Epochs), join(s.Selections), FormatDuration(s.WallSeconds)})
	}
	if len(t.Warnings) > 0 {
		ew.printf("\nWarnings:\n")
		for _, m := range t.Warnings {
			ew.printf("- %s\n", m)
		}
	}
	return ew.err
}

// CSV writes the table in its layout, one row per dataset: for each variant the mean, the sample standard
// deviation and the number of seeds (in %, empty where there are no runs), then the best variants.
func (t *Table) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"dataset"}
	for _, v := range t.Variants {
		head = append(head, v+"_mean", v+"_std", v+"_n")
	}
	head = append(head, "best")
	cw.Write(head)
	for _, r := range t.Rows {
		rec := []string{r.Dataset}
		for _, c := range r.Cells {
			if c == nil {
				rec = append(rec, "", "", "0")
				continue
			}
			std := ""
			if !math.IsNaN(c.Std) {
				std = strconv.FormatFloat(c.Std, 'f', 4, 64)
			}
			rec = append(rec, strconv.FormatFloat(c.Mean, 'f', 4, 64), std, strconv.Itoa(c.N()))
		}
		var best []string
		for _, i := range r.Best {
			best = append(best, t.Variants[i])
		}
		rec = append(rec, strings.Join(best, " "))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// RunsCSV writes one row per run with its summary; directories are relative to root.
func RunsCSV(w io.Writer, runs []Run, root string) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"dataset", "attention", "seed", "test_top1", "test_top5", "test_mean_class_acc", "val_top1",
		"epochs", "depth", "width_multiplier", "image_size", "selection", "params", "wall_seconds", "images_per_second", "dir"})
	sorted := slices.Clone(runs)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Summary, sorted[j].Summary
		switch {
		case a.Dataset != b.Dataset:
			return a.Dataset < b.Dataset
		case a.Attention != b.Attention:
			return slices.Index(Variants, a.Attention) < slices.Index(Variants, b.Attention)
		case a.Seed != b.Seed:
			return a.Seed < b.Seed
		}
		return sorted[i].Dir < sorted[j].Dir
	})
	g := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, r := range sorted {
		s := r.Summary
		dir := r.Dir
		if rel, err := filepath.Rel(root, r.Dir); err == nil {
			dir = filepath.ToSlash(rel)
		}
		cw.Write([]string{s.Dataset, s.Attention, strconv.FormatInt(s.Seed, 10), g(s.TestTop1), g(s.TestTop5),
			g(s.TestMeanClassAcc), g(s.ValTop1), strconv.Itoa(s.Epochs), strconv.Itoa(s.Depth), g(cmp.Or(s.WidthMultiplier, math.NaN())), strconv.Itoa(s.ImageSize),
			s.Selection, strconv.FormatInt(s.Params, 10), g(s.WallSeconds), g(s.ImagesPerSecond), dir})
	}
	cw.Flush()
	return cw.Error()
}

// FormatDuration writes seconds as 1h02m03s, rounded to the second.
func FormatDuration(seconds float64) string {
	d := time.Duration(math.Round(seconds)) * time.Second
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func writeMarkdownRow(ew *errWriter, cells []string) {
	ew.printf("| %s |\n", strings.Join(cells, " | "))
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
