package camviz

import (
	"fmt"
	"image"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Grid lays images out in rows under column titles, with title lines (split at "\n") above them and
// each row's title (rows[i], if rows is not nil) above the row: a figure of several models' maps of
// the same images, one column per model. Cells are placed at the top-left of their slot, each column
// as wide as its widest cell and each row as tall as its tallest; a nil cell is left blank.
func Grid(cells [][]image.Image, columns, rows []string, title string) (*image.RGBA, error) {
	if len(cells) == 0 || len(columns) == 0 {
		return nil, fmt.Errorf("camviz: a grid of %d rows and %d columns", len(cells), len(columns))
	}
	if rows != nil && len(rows) != len(cells) {
		return nil, fmt.Errorf("camviz: %d row titles for %d rows", len(rows), len(cells))
	}
	colW := make([]int, len(columns))
	rowH := make([]int, len(cells))
	for i, row := range cells {
		if len(row) != len(columns) {
			return nil, fmt.Errorf("camviz: grid row %d has %d cells for %d columns", i+1, len(row), len(columns))
		}
		for j, c := range row {
			if c != nil {
				colW[j] = max(colW[j], c.Bounds().Dx())
				rowH[i] = max(rowH[i], c.Bounds().Dy())
			}
		}
	}
	fonts, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	const gap, size = 12, 20.0
	bold, err := opentype.NewFace(fonts[1], &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("camviz: font face: %w", err)
	}
	regular, err := opentype.NewFace(fonts[0], &opentype.FaceOptions{Size: size * 0.8, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("camviz: font face: %w", err)
	}
	var lines []string
	if title != "" {
		lines = strings.Split(title, "\n")
	}
	lineH, headH := regular.Metrics().Height.Ceil(), bold.Metrics().Height.Ceil()
	width := gap
	for _, w := range colW {
		width += w + gap
	}
	height := gap + len(lines)*lineH + headH + gap/2
	if len(lines) > 0 {
		height += gap / 2
	}
	for _, h := range rowH {
		height += h + gap
		if rows != nil {
			height += lineH
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(out, out.Bounds(), image.NewUniform(legendBackground), image.Point{}, draw.Src)
	text := func(f font.Face, s string, x, top int) {
		d := font.Drawer{Dst: out, Src: image.NewUniform(ink), Face: f, Dot: fixed.P(x, top+f.Metrics().Ascent.Ceil())}
		d.DrawString(s)
	}
	y := gap
	for _, l := range lines {
		text(regular, l, gap, y)
		y += lineH
	}
	if len(lines) > 0 {
		y += gap / 2
	}
	x := gap
	for j, name := range columns {
		text(bold, name, x+(colW[j]-textWidth(bold, name))/2, y)
		x += colW[j] + gap
	}
	y += headH + gap/2
	for i, row := range cells {
		if rows != nil {
			text(regular, rows[i], gap, y)
			y += lineH
		}
		x := gap
		for j, c := range row {
			if c != nil {
				draw.Draw(out, c.Bounds().Sub(c.Bounds().Min).Add(image.Pt(x, y)), c, c.Bounds().Min, draw.Src)
			}
			x += colW[j] + gap
		}
		y += rowH[i] + gap
	}
	return out, nil
}
