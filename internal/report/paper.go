package report

import (
	"io"
	"slices"
	"strconv"

	"github.com/finegrain/finegrain/nets"
)

// PaperTable1 is Table 1 of Du & Ma, "Multi-Attention Mechanism Fusion for Fine-Grained Image
// Classification": top-1 accuracy (%) of ResNet-50 and its variants, one value per cell (the paper gives
// neither seeds nor deviations). Rows cub, dogs, cars; columns in the order of nets.Variants.
var PaperTable1 = []struct {
	Dataset string
	Top1    [5]float64
}{
	{"cub", [5]float64{76.4, 76.5, 79.1, 78.4, 84.7}},
	{"dogs", [5]float64{73.9, 73.8, 77.3, 77.1, 83.5}},
	{"cars", [5]float64{87.6, 87.1, 89.7, 90.2, 92.0}},
}

// PaperMarkdown writes the paper's Table 1 in the layout of Table.Markdown, the best of each row in bold.
func PaperMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("### Paper (Du & Ma, Table 1): top-1 accuracy (%%), ResNet-50, real datasets\n\n")
	head := []string{"dataset"}
	for _, v := range nets.Variants() {
		head = append(head, VariantTitle(v, 50))
	}
	writeMarkdownRow(ew, head)
	writeMarkdownRow(ew, slices.Repeat([]string{"---"}, len(head)))
	for _, r := range PaperTable1 {
		best := slices.Max(r.Top1[:])
		cells := []string{DatasetTitle(r.Dataset)}
		for _, v := range r.Top1 {
			text := strconv.FormatFloat(v, 'f', 1, 64)
			if v == best {
				text = "**" + text + "**"
			}
			cells = append(cells, text)
		}
		writeMarkdownRow(ew, cells)
	}
	ew.printf("\nOne run per cell as published; the paper states no input size, schedule or number of runs.\n")
	return ew.err
}
