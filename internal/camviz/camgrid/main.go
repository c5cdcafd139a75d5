// Command camgrid lays out the activation maps that `predict -cam` wrote for several models in one
// figure: one column per output folder, one row per map file (*.cam.png) that every folder holds, in
// name order. scripts/cam_figure.sh uses it for docs/cam_variants.png.
//
//	go run ./internal/camviz/camgrid -out FILE -columns none,csca [-title TEXT] DIR...
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/finegrain/finegrain/internal/camviz"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("camgrid", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "", "the figure to write (`PNG`)")
	columns := fl.String("columns", "", "column titles, comma-separated, one per folder (default: the folders' names)")
	title := fl.String("title", "", "lines above the grid (\\n starts a new line)")
	fl.Usage = func() {
		fmt.Fprint(stderr, `Usage: camgrid -out FILE [-columns a,b] [-title TEXT] DIR...

Lays out predict -cam's maps of the same images by several models, one column per folder.

Rows are the *.cam.png files every folder holds, in name order, each titled with its name.

Examples:
  go run ./internal/camviz/camgrid -out docs/cam_variants.png -columns none,csca cams/none cams/csca

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fl.NArg() == 0 {
		fmt.Fprintln(stderr, "camgrid: -out FILE and at least one folder are required (see -h)")
		return 2
	}
	if err := grid(*out, fl.Args(), *columns, strings.ReplaceAll(*title, `\n`, "\n")); err != nil {
		fmt.Fprintf(stderr, "camgrid: %v\n", err)
		return 1
	}
	return 0
}

func grid(out string, dirs []string, columns, title string) error {
	cols := make([]string, len(dirs))
	for i, d := range dirs {
		cols[i] = filepath.Base(d)
	}
	if columns != "" {
		cols = strings.Split(columns, ",")
		if len(cols) != len(dirs) {
			return fmt.Errorf("%d column titles for %d folders", len(cols), len(dirs))
		}
	}
	names, err := filepath.Glob(filepath.Join(dirs[0], "*.cam.png"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no *.cam.png in %s", dirs[0])
	}
	slices.Sort(names)
	var cells [][]image.Image
	var rows []string
	for _, n := range names {
		base := filepath.Base(n)
		var row []image.Image
		for _, d := range dirs {
			img, err := readPNG(filepath.Join(d, base))
			if err != nil {
				return err
			}
			row = append(row, img)
		}
		cells = append(cells, row)
		rows = append(rows, strings.TrimSuffix(base, ".cam.png"))
	}
	fig, err := camviz.Grid(cells, cols, rows, title)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, fig); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return img, nil
}
