package report

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/finegrain/finegrain/nets"
)

// none is the plain ResNet's variant, the baseline the other columns are paired with.
const none = string(nets.AttentionNone)

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
	ValImages   []int // −1 = not recorded
	TestImages  []int
	ImageSizes  []int
	Epochs      []int
	Selections  []string
	Other       []string // key=value of Table.RowKeys the columns above do not show
	WallSeconds float64  // the training time of all the row's runs together
}

// Row is one dataset: the runs of one data root (or generated dataset) with one class count.
type Row struct {
	Dataset  string   // the name the row shows: the sweep's dataset name, else the root's base name, else the format
	Format   string   // data.format
	Root     string   // data.root; "" when not recorded
	Classes  int      // 0 when not recorded
	Cells    []*Cell  // one per Table.Columns; nil where no run
	Best     []int    // indices of the cells with the highest mean; none with fewer than two cells or when all tie
	Settings Settings // over all the row's runs
	groups   [][]Run  // the runs of each column, those without the metric included
}

// Column is one column of the table: a variant, and the settings its runs share that other columns
// of the same variant do not.
type Column struct {
	Variant  string
	Settings map[string]string // the values of Table.ColumnKeys that apply to Variant; empty for a column without runs
	ID       string            // the variant, or variant[key=value ...] when settings split columns: names in CSV files and warnings
	Title    string            // the column's title: CSCA-ResNet18 (plain)
	short    string            // the title on a plot's axis: CSCA (plain)
}

// Table is the paper's Table 1 layout of a set of runs.
type Table struct {
	Metric   string
	Columns  []Column
	Variants []string // the variant of each column
	Depth    int      // the depth of every run, 0 when they differ
	// ColumnKeys are the settings besides the variant that differ between runs of one dataset: they
	// split columns, so that a cell holds only runs alike in everything but the seed.
	ColumnKeys []string
	// RowKeys are the settings that differ only between datasets; each row states its own.
	RowKeys  []string
	Values   map[string][]string // the values of each of ColumnKeys and RowKeys, sorted
	Rows     []Row
	Warnings []string // runs that do not belong together: repeated seeds, mixed results of runs alike
}

// runInfo is a run with what the table groups it by.
type runInfo struct {
	run      Run
	variant  string
	id       identity
	settings map[string]string // the settings that make runs unlike: no identity, variant, seed or ignored key
}

// NewTable groups runs into rows by dataset (the data root, or generated dataset, and class count: cub,
// dogs, cars first, then the others by name) and into columns by attention variant (nets.Variants, then
// any other by name) and every other setting that differs between runs of one dataset, and summarises
// metric over seeds. Runs share a cell only when everything but the seed is equal; settings that do not
// apply to a variant (appliesTo) are left out of that comparison.
func NewTable(runs []Run, metric string) (*Table, error) {
	if _, ok := metricNames[metric]; !ok {
		return nil, fmt.Errorf("metric %q: want one of %s", metric, strings.Join(Metrics, ", "))
	}
	t := &Table{Metric: metric, Values: map[string][]string{}}
	infos := make([]runInfo, len(runs))
	keySet := map[string]bool{}
	depths := map[string]bool{}
	for i, r := range runs {
		all := settingsOf(r)
		depths[all[keyDepth]] = true
		in := runInfo{run: r, variant: r.Summary.Attention, id: identityOf(r, all), settings: map[string]string{}}
		for k, v := range all {
			if k != keyVariant && k != keySeed && !isIdentity(k) && !ignored(k) && appliesTo(in.variant, k) {
				in.settings[k] = v
				keySet[k] = true
			}
		}
		infos[i] = in
	}
	if len(depths) == 1 {
		for d := range depths {
			t.Depth, _ = strconv.Atoi(d) // 0 when not recorded
		}
	}
	keys := sortedKeys(keySet)
	for _, in := range infos {
		for _, k := range keys {
			if _, ok := in.settings[k]; !ok && appliesTo(in.variant, k) {
				in.settings[k] = unknown
			}
		}
	}
	byID := map[identity][]runInfo{}
	for _, in := range infos {
		byID[in.id] = append(byID[in.id], in)
	}
	for _, k := range keys {
		values := map[string]bool{}
		rowConstant := true
		for _, group := range byID {
			inRow := map[string]bool{}
			for _, in := range group {
				if v, ok := in.settings[k]; ok {
					values[v] = true
					inRow[v] = true
				}
			}
			rowConstant = rowConstant && len(inRow) <= 1
		}
		if len(values) < 2 {
			continue
		}
		t.Values[k] = sortedValues(values)
		if rowConstant {
			t.RowKeys = append(t.RowKeys, k)
		} else {
			t.ColumnKeys = append(t.ColumnKeys, k)
		}
	}
	t.columns(infos)
	t.rows(byID)
	return t, nil
}

// columnKey is the column a run belongs in.
func (t *Table) columnKey(variant string, settings map[string]string) string {
	key := variant
	for _, k := range t.ColumnKeys {
		if v, ok := settings[k]; ok {
			key += "\x00" + k + "=" + v
		}
	}
	return key
}

// columns makes one column per variant and values of ColumnKeys that has runs, and one for every
// paper variant without any, in the paper's order and then by the values of the settings.
func (t *Table) columns(infos []runInfo) {
	seen := map[string]bool{}
	for _, in := range infos {
		key := t.columnKey(in.variant, in.settings)
		if seen[key] {
			continue
		}
		seen[key] = true
		c := Column{Variant: in.variant, Settings: map[string]string{}}
		for _, k := range t.ColumnKeys {
			if v, ok := in.settings[k]; ok {
				c.Settings[k] = v
			}
		}
		t.Columns = append(t.Columns, c)
	}
	for _, v := range nets.Variants() {
		if !slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Variant == v }) {
			t.Columns = append(t.Columns, Column{Variant: v, Settings: map[string]string{}})
		}
	}
	slices.SortStableFunc(t.Columns, func(a, b Column) int {
		if c := cmp.Compare(variantOrder(a.Variant), variantOrder(b.Variant)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Variant, b.Variant); c != 0 {
			return c
		}
		for _, k := range t.ColumnKeys {
			if c := compareValues(a.Settings[k], b.Settings[k]); c != 0 {
				return c
			}
		}
		return 0
	})
	for i := range t.Columns {
		c := &t.Columns[i]
		depth := t.Depth
		var title, id []string
		for _, k := range t.ColumnKeys {
			v, ok := c.Settings[k]
			if !ok {
				continue
			}
			id = append(id, k+"="+v)
			if d, err := strconv.Atoi(v); k == keyDepth && err == nil {
				depth = d
				continue // the title's network name says it
			}
			title = append(title, settingText(k, v))
		}
		c.Title = VariantTitle(c.Variant, depth)
		c.short = shortTitle(c.Variant)
		if depth != t.Depth {
			c.short += strconv.Itoa(depth)
		}
		if len(title) > 0 {
			c.Title += " (" + strings.Join(title, ", ") + ")"
			c.short += "\n" + strings.Join(title, ", ")
		}
		c.ID = c.Variant
		if len(id) > 0 {
			c.ID += "[" + strings.Join(id, " ") + "]"
		}
		t.Variants = append(t.Variants, c.Variant)
	}
}

// variantOrder puts the paper's variants first, in its order.
func variantOrder(v string) int {
	variants := nets.Variants()
	if i := slices.Index(variants, v); i >= 0 {
		return i
	}
	return len(variants)
}

// compareValues orders numbers by value and other text as text.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// rows makes one row per dataset, named, ordered and filled.
func (t *Table) rows(byID map[identity][]runInfo) {
	groups := map[*Row][]runInfo{}
	for id, group := range byID {
		row := &Row{Format: id.format, Root: id.root, Classes: id.classes}
		names := map[string]bool{}
		for _, in := range group {
			if in.run.Name != "" {
				names[in.run.Name] = true
			}
		}
		switch {
		case len(names) > 0:
			row.Dataset = strings.Join(sortedKeys(names), ", ")
		case id.root != "":
			row.Dataset = filepath.Base(id.root)
		case id.format != "":
			row.Dataset = id.format
		default:
			row.Dataset = unknown
		}
		groups[row] = group
	}
	// Two datasets of one name (two roots that two sweeps both called "a") say what tells them apart.
	count := map[string]int{}
	for row := range groups {
		count[row.Dataset]++
	}
	rows := make([]*Row, 0, len(groups))
	for row := range groups {
		if count[row.Dataset] > 1 {
			row.Dataset += " (" + cmp.Or(row.Root, row.Format, unknown) + ", " + classesText(row.Classes) + ")"
		}
		rows = append(rows, row)
	}
	// Generated datasets of one root and class count differ in their generator's settings.
	count = map[string]int{}
	for _, row := range rows {
		count[row.Dataset]++
	}
	for _, row := range rows {
		if synth := groups[row][0].id.synth; count[row.Dataset] > 1 && synth != "" {
			row.Dataset += " [" + synth + "]"
		}
	}
	slices.SortFunc(rows, func(a, b *Row) int {
		return cmp.Or(cmp.Compare(datasetOrder(a.Dataset), datasetOrder(b.Dataset)), strings.Compare(a.Dataset, b.Dataset),
			strings.Compare(a.Root, b.Root), cmp.Compare(a.Classes, b.Classes), strings.Compare(a.Format, b.Format),
			strings.Compare(groups[a][0].id.synth, groups[b][0].id.synth))
	})
	for _, row := range rows {
		t.fill(row, groups[row])
		t.Rows = append(t.Rows, *row)
	}
}

func classesText(n int) string {
	if n == 0 {
		return "? classes"
	}
	return fmt.Sprintf("%d classes", n)
}

func (t *Table) fill(row *Row, group []runInfo) {
	sort.SliceStable(group, func(i, j int) bool {
		if a, b := group[i].run.Summary.Seed, group[j].run.Summary.Seed; a != b {
			return a < b
		}
		return group[i].run.Dir < group[j].run.Dir
	})
	index := map[string]int{}
	for i, c := range t.Columns {
		index[t.columnKey(c.Variant, c.Settings)] = i
	}
	row.Cells = make([]*Cell, len(t.Columns))
	row.groups = make([][]Run, len(t.Columns))
	st := &row.Settings
	other := map[string]bool{}
	for _, in := range group {
		i := index[t.columnKey(in.variant, in.settings)]
		row.groups[i] = append(row.groups[i], in.run)
		for _, k := range t.RowKeys {
			if v, ok := in.settings[k]; ok && !slices.Contains([]string{keyDepth, keyWidth, keyImage, keyEpochs, keySelect}, k) {
				other[k+"="+v] = true
			}
		}
	}
	st.Other = sortedKeys(other)
	dataset := row.Dataset
	for i, runs := range row.groups {
		col := t.Columns[i]
		dirs := map[int64][]string{}
		for _, r := range runs {
			s := r.Summary
			v := 100 * metricValue(s, t.Metric)
			if math.IsNaN(v) {
				t.Warnings = append(t.Warnings, fmt.Sprintf("%s: %s seed %d (%s) has no %s; left out", dataset, col.ID, s.Seed, r.Dir, t.Metric))
				continue
			}
			if row.Cells[i] == nil {
				row.Cells[i] = &Cell{}
			}
			c := row.Cells[i]
			c.Values = append(c.Values, v)
			c.Seeds = append(c.Seeds, s.Seed)
			dirs[s.Seed] = append(dirs[s.Seed], r.Dir)
			st.Runs++
			st.WallSeconds += s.WallSeconds
			st.Seeds = addSorted(st.Seeds, s.Seed)
			st.Depths = addSorted(st.Depths, s.Depth)
			st.Widths = addSorted(st.Widths, s.WidthMultiplier)
			st.Classes = addSorted(st.Classes, s.NumClasses)
			st.TrainImages = addSorted(st.TrainImages, s.TrainImages)
			st.ValImages = addSorted(st.ValImages, s.ValImages)
			st.TestImages = addSorted(st.TestImages, s.TestImages)
			st.ImageSizes = addSorted(st.ImageSizes, s.ImageSize)
			st.Epochs = addSorted(st.Epochs, s.Epochs)
			st.Selections = addSorted(st.Selections, s.Selection)
		}
		for _, seed := range slices.Sorted(maps.Keys(dirs)) {
			if d := dirs[seed]; len(d) > 1 {
				t.Warnings = append(t.Warnings, fmt.Sprintf("%s: %s seed %d has %d runs (%s); all are counted", dataset, col.ID, seed, len(d), strings.Join(d, ", ")))
			}
		}
		// Runs alike in every setting should also agree in these; when they do not, the data or the
		// trainer changed between them.
		var train, val []int
		var epochs []int
		var sel []string
		for _, r := range runs {
			s := r.Summary
			train, val = addSorted(train, s.TrainImages), addSorted(val, s.ValImages)
			epochs, sel = addSorted(epochs, s.Epochs), addSorted(sel, s.Selection)
		}
		for _, m := range []struct {
			what string
			n    int
			vals string
		}{
			{"training images", len(train), joinKnown(train)},
			{"validation images", len(val), joinVal(val)},
			{"epochs", len(epochs), join(epochs)},
			{"model selection", len(sel), join(sel)},
		} {
			if m.n > 1 {
				t.Warnings = append(t.Warnings, fmt.Sprintf("%s: %s: runs differ in %s (%s)", dataset, col.ID, m.what, m.vals))
			}
		}
	}
	// The test split is the dataset's, whatever the settings.
	if len(st.TestImages) > 1 {
		t.Warnings = append(t.Warnings, fmt.Sprintf("%s: runs differ in test images (%s)", dataset, joinKnown(st.TestImages)))
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

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedValues(m map[string]bool) []string {
	v := sortedKeys(m)
	slices.SortStableFunc(v, compareValues)
	return v
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

// joinVal is join of validation image counts, with −1, a count the summaries did not record, as "?".
func joinVal(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
		if v < 0 {
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
	if variant == none {
		return net
	}
	return strings.ToUpper(variant) + "-" + net
}

func (t *Table) header() []string {
	h := []string{"dataset"}
	for _, c := range t.Columns {
		h = append(h, c.Title)
	}
	return h
}

// differences says which settings besides the variant differ between runs, and how the table keeps
// them apart; nothing when only the variant differs.
func (t *Table) differences(ew *errWriter) {
	list := func(keys []string) string {
		parts := make([]string, len(keys))
		for i, k := range keys {
			values := slices.Clone(t.Values[k])
			for j, v := range values {
				if v == "" {
					values[j] = `""`
				}
			}
			parts[i] = k + " (" + strings.Join(values, ", ") + ")"
		}
		return strings.Join(parts, ", ")
	}
	if len(t.ColumnKeys) > 0 {
		ew.printf("Besides the attention variant, runs of one dataset differ in %s: each value has its own column, "+
			"so that a cell holds only runs alike in everything but the seed.", list(t.ColumnKeys))
		for _, k := range t.ColumnKeys {
			var not []string
			for _, c := range t.Columns {
				if _, ok := c.Settings[k]; !ok && !appliesTo(c.Variant, k) && !slices.Contains(not, VariantTitle(c.Variant, 0)) {
					not = append(not, VariantTitle(c.Variant, 0))
				}
			}
			if len(not) > 0 {
				ew.printf(" %s does not change %s: one column holds its runs whatever the value.", k, strings.Join(not, ", "))
			}
		}
		ew.printf("\n\n")
	}
	if len(t.RowKeys) > 0 {
		ew.printf("Runs of different datasets differ in %s; the settings below state each dataset's.\n\n", list(t.RowKeys))
	}
}

// Markdown writes the settings that differ between runs, the table, its legend, the settings of each
// row and the warnings.
func (t *Table) Markdown(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("### %s (%%)\n\n", capitalize(metricNames[t.Metric]))
	t.differences(ew)
	writeMarkdownRow(ew, t.header())
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(t.Columns)+1))
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
		"with the number of seeds n in parentheses (no ± for a single seed). Bold: the best mean of the row. "+
		"A row is one dataset (data root and class count).\n\n", metricNames[t.Metric])
	other := slices.ContainsFunc(t.Rows, func(r Row) bool { return len(r.Settings.Other) > 0 })
	header := []string{"dataset", "format", "data root", "classes", "runs", "seeds", "depth", "width", "train / validation / test images",
		"image size", "epochs", "model selection"}
	if other {
		header = append(header, "other settings")
	}
	header = append(header, "training time (all runs)")
	writeMarkdownRow(ew, header)
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(header)))
	for _, r := range t.Rows {
		s := r.Settings
		cells := []string{DatasetTitle(r.Dataset), cmp.Or(r.Format, unknown), cmp.Or(r.Root, unknown), joinKnown([]int{r.Classes}),
			strconv.Itoa(s.Runs), join(s.Seeds), join(s.Depths), joinKnown(s.Widths),
			joinKnown(s.TrainImages) + " / " + joinVal(s.ValImages) + " / " + joinKnown(s.TestImages),
			joinKnown(s.ImageSizes), join(s.Epochs), join(s.Selections)}
		if other {
			cells = append(cells, strings.Join(s.Other, ", "))
		}
		writeMarkdownRow(ew, append(cells, FormatDuration(s.WallSeconds)))
	}
	if len(t.Warnings) > 0 {
		ew.printf("\nWarnings:\n")
		for _, m := range t.Warnings {
			ew.printf("- %s\n", m)
		}
	}
	return ew.err
}

// CSV writes the table in its layout, one row per dataset: for each column (named by Column.ID) the
// mean, the sample standard deviation and the number of seeds (in %, empty where there are no runs),
// the best columns, then the dataset's format, data root and class count.
func (t *Table) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"dataset"}
	for _, c := range t.Columns {
		head = append(head, c.ID+"_mean", c.ID+"_std", c.ID+"_n")
	}
	head = append(head, "best", "format", "data_root", "classes")
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
			best = append(best, t.Columns[i].ID)
		}
		classes := ""
		if r.Classes > 0 {
			classes = strconv.Itoa(r.Classes)
		}
		rec = append(rec, strings.Join(best, " "), r.Format, r.Root, classes)
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// RunsCSV writes one row per run with its summary and the settings that tell runs of one dataset apart
// (empty where the run does not record them); directories are relative to root. final_test_top1 is
// FinalTop1, empty where unknown.
func RunsCSV(w io.Writer, runs []Run, root string) error {
	cw := csv.NewWriter(w)
	modelKeys := []string{"model.gate_form", "model.csca_fusion", "model.attention_stages", "model.pretrained"}
	head := []string{"dataset", "attention", "seed", "test_top1", "test_top5", "test_mean_class_acc", "val_top1",
		"epochs", "depth", "width_multiplier", "image_size", "selection", "params", "wall_seconds", "images_per_second", "dir",
		"name", "data_root", "num_classes", "val_images", "best_epoch", "final_test_top1"}
	for _, k := range modelKeys {
		head = append(head, strings.TrimPrefix(k, "model."))
	}
	cw.Write(head)
	sorted := slices.Clone(runs)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Summary, sorted[j].Summary
		sa, sb := settingsOf(sorted[i]), settingsOf(sorted[j])
		switch {
		case sorted[i].Name != sorted[j].Name:
			return sorted[i].Name < sorted[j].Name
		case sa[keyFormat] != sb[keyFormat]:
			return sa[keyFormat] < sb[keyFormat]
		case sa[keyRoot] != sb[keyRoot]:
			return sa[keyRoot] < sb[keyRoot]
		case a.Attention != b.Attention:
			return variantOrder(a.Attention) < variantOrder(b.Attention)
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
	known := func(v int, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.Itoa(v)
	}
	for _, r := range sorted {
		s := r.Summary
		dir := r.Dir
		if rel, err := filepath.Rel(root, r.Dir); err == nil {
			dir = filepath.ToSlash(rel)
		}
		final, _ := FinalTop1(r)
		settings := settingsOf(r)
		rec := []string{s.Dataset, s.Attention, strconv.FormatInt(s.Seed, 10), g(s.TestTop1), g(s.TestTop5),
			g(s.TestMeanClassAcc), g(s.ValTop1), strconv.Itoa(s.Epochs), strconv.Itoa(s.Depth), g(cmp.Or(s.WidthMultiplier, math.NaN())), strconv.Itoa(s.ImageSize),
			s.Selection, strconv.FormatInt(s.Params, 10), g(s.WallSeconds), g(s.ImagesPerSecond), dir,
			r.Name, settings[keyRoot], known(s.NumClasses, s.NumClasses > 0), known(s.ValImages, s.ValImages >= 0),
			known(s.BestEpoch, s.BestEpoch > 0), g(final)}
		for _, k := range modelKeys {
			rec = append(rec, settings[k])
		}
		cw.Write(rec)
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
