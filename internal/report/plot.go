package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot sizes: one panel is panelW × panelH.
const (
	panelW = 5 * vg.Inch
	panelH = 3.6 * vg.Inch
	dpi    = 110
)

// Plots draws, in dir, accuracy.png (one panel per dataset: a bar per column at the mean over seeds,
// error bars of one sample standard deviation, a dot per seed) and, for every dataset whose runs have
// metrics, curves_<dataset>.png (validation top-1 — training top-1 without a validation split — and
// training loss against the epoch, one line per column, the mean over seeds). It returns the files
// written.
func Plots(dir string, t *Table) (files []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot in %s: %v", dir, r)
		}
	}()
	if len(t.Rows) == 0 {
		return nil, nil
	}
	path := filepath.Join(dir, "accuracy.png")
	if err := accuracyPlot(path, t); err != nil {
		return files, err
	}
	files = append(files, path)
	used := map[string]bool{}
	for _, row := range t.Rows {
		withCurves := false
		for _, runs := range row.groups {
			for _, r := range runs {
				withCurves = withCurves || len(r.Epochs) > 0
			}
		}
		if !withCurves {
			continue
		}
		// Two datasets whose names differ only in characters a file name drops keep two files.
		name := fileName(row.Dataset)
		for i := 2; used[name]; i++ {
			name = fileName(row.Dataset) + "_" + strconv.Itoa(i)
		}
		used[name] = true
		path := filepath.Join(dir, "curves_"+name+".png")
		if err := curvesPlot(path, t, row); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// fileName keeps letters, digits, '-' and '_' of a dataset name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// shortTitle is a variant's name on an axis: ResNet, FCN, CA, SA, CSCA.
func shortTitle(v string) string {
	if v == none {
		return "ResNet"
	}
	return strings.ToUpper(v)
}

// columnColor is the colour of a column in every plot.
func columnColor(i int) color.Color {
	return plotutil.Color(i)
}

// meanErr is points with symmetric Y errors.
type meanErr struct {
	plotter.XYs
	err []float64
}

func (m meanErr) YError(i int) (float64, float64) { return m.err[i], m.err[i] }

func accuracyPlot(path string, t *Table) error {
	var panels []*plot.Plot
	for _, row := range t.Rows {
		p := plot.New()
		p.Title.Text = DatasetTitle(row.Dataset)
		p.Y.Label.Text = capitalize(metricNames[t.Metric]) + " (%)"
		p.X.Label.Text = "bar: mean over seeds · error bar: ±1 sample std · dot: one seed · *: best"
		p.X.Label.TextStyle.Font.Size = vg.Points(9)
		p.Add(plotter.NewGrid())
		names := make([]string, len(t.Columns))
		top := 0.0
		for i, col := range t.Columns {
			names[i] = col.short
			c := row.Cells[i]
			if c == nil {
				continue
			}
			bar, err := plotter.NewBarChart(plotter.Values{c.Mean}, vg.Points(min(34, 250/float64(len(t.Columns)))))
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			bar.XMin = float64(i)
			bar.Color = columnColor(i)
			bar.LineStyle.Width = 0
			p.Add(bar)
			top = max(top, c.Mean)
			if c.N() >= 2 {
				eb, err := plotter.NewYErrorBars(meanErr{plotter.XYs{{X: float64(i), Y: c.Mean}}, []float64{c.Std}})
				if err != nil {
					return fmt.Errorf("plot %s: %w", path, err)
				}
				eb.LineStyle.Width = vg.Points(1.2)
				p.Add(eb)
				top = max(top, c.Mean+c.Std)
			}
			seeds := make(plotter.XYs, c.N())
			for k, val := range c.Values {
				// spread the dots of one bar a little so that equal values stay visible
				seeds[k] = plotter.XY{X: float64(i) + 0.12*(float64(k)-float64(c.N()-1)/2)/max(1, float64(c.N()-1)), Y: val}
				top = max(top, val)
			}
			sc, err := plotter.NewScatter(seeds)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			sc.GlyphStyle.Radius = vg.Points(2)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyle.Color = color.Gray{Y: 40}
			p.Add(sc)
			label := fmt.Sprintf("%.1f", c.Mean)
			if slices.Contains(row.Best, i) {
				label += " *"
			}
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: 0}}, Labels: []string{label}})
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			lb.Offset = vg.Point{X: -vg.Points(9), Y: vg.Points(3)}
			lb.TextStyle[0].Color = color.White
			p.Add(lb)
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(t.Columns))-0.4
		p.Y.Min, p.Y.Max = 0, math.Min(100, top*1.05+1)
		if top*1.05+1 > 100 {
			p.Y.Max = top*1.02 + 0.5
		}
		panels = append(panels, p)
	}
	cols := min(len(panels), 3)
	return savePanels(path, panels, cols)
}

// curve is the mean over runs of one metric per epoch; epochs without any value are left out.
func curve(runs []Run, value func(Epoch) float64) plotter.XYs {
	sum, n := map[int]float64{}, map[int]int{}
	for _, r := range runs {
		for _, e := range r.Epochs {
			if v := value(e); !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum[e.Epoch] += v
				n[e.Epoch]++
			}
		}
	}
	var xys plotter.XYs
	for ep := range sum {
		xys = append(xys, plotter.XY{X: float64(ep), Y: sum[ep] / float64(n[ep])})
	}
	slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
	return xys
}

func curvesPlot(path string, t *Table, row Row) error {
	dataset := row.Dataset
	accName, acc := "Validation top-1 (%)", func(e Epoch) float64 { return 100 * e.ValTop1 }
	hasVal := false
	for _, runs := range row.groups {
		for _, r := range runs {
			for _, e := range r.Epochs {
				hasVal = hasVal || !math.IsNaN(e.ValTop1)
			}
		}
	}
	if !hasVal {
		accName, acc = "Training top-1 (%)", func(e Epoch) float64 { return 100 * e.TrainTop1 }
	}
	left, right := plot.New(), plot.New()
	left.Title.Text = DatasetTitle(dataset) + ": " + strings.ToLower(accName[:1]) + accName[1:]
	left.Y.Label.Text = accName
	right.Title.Text = DatasetTitle(dataset) + ": training loss"
	right.Y.Label.Text = "Training loss"
	for _, p := range []*plot.Plot{left, right} {
		p.X.Label.Text = "Epoch"
		p.X.Tick.Marker = epochTicks{}
		p.Add(plotter.NewGrid())
	}
	left.Legend.Top = false
	left.Legend.Left = false
	for i, col := range t.Columns {
		var rs []Run
		for _, r := range row.groups[i] {
			if len(r.Epochs) > 0 {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		for k, pl := range []struct {
			p     *plot.Plot
			value func(Epoch) float64
		}{{left, acc}, {right, func(e Epoch) float64 { return e.TrainLoss }}} {
			xys := curve(rs, pl.value)
			if len(xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			line.Color = columnColor(i)
			line.Width = vg.Points(1.5)
			thumbs := []plot.Thumbnailer{line}
			pl.p.Add(line)
			if len(xys) <= 30 { // a dot per epoch while they stay apart
				points.Color = line.Color
				points.Shape = draw.CircleGlyph{}
				points.Radius = vg.Points(1.5)
				pl.p.Add(points)
				thumbs = append(thumbs, points)
			}
			if k == 0 {
				left.Legend.Add(fmt.Sprintf("%s (%d)", strings.ReplaceAll(col.short, "\n", " "), len(rs)), thumbs...)
			}
		}
	}
	return savePanels(path, []*plot.Plot{left, right}, 2)
}

// savePanels draws plots on a grid of cols columns into a PNG file.
func savePanels(path string, panels []*plot.Plot, cols int) error {
	rows := (len(panels) + cols - 1) / cols
	img := vgimg.NewWith(vgimg.UseWH(panelW*vg.Length(cols), panelH*vg.Length(rows)), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range grid[i] {
			if k := i*cols + j; k < len(panels) {
				grid[i][j] = panels[k]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// epochTicks are plot.DefaultTicks without the ticks between whole epochs.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value == math.Trunc(t.Value) {
			if t.Label != "" {
				t.Label = strconv.Itoa(int(t.Value))
			}
			out = append(out, t)
		}
	}
	return out
}
