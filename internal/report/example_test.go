package report_test

import (
	"fmt"
	"os"

	"github.com/finegrain/finegrain/internal/report"
)

// Runs as Load returns them, grouped into the paper's layout.
func ExampleNewTable() {
	var runs []report.Run
	for seed, acc := range map[int64][2]float64{1: {0.70, 0.74}, 2: {0.72, 0.77}, 3: {0.71, 0.75}} {
		for i, v := range []string{"none", "csca"} {
			runs = append(runs, report.Run{Summary: report.Summary{
				Dataset: "cub", Attention: v, Seed: seed, TestTop1: acc[i], Depth: 50, ImageSize: 448, Epochs: 100, Selection: "last"}})
		}
	}
	t, err := report.NewTable(runs, "test_top1")
	if err != nil {
		fmt.Println(err)
		return
	}
	row := t.Rows[0]
	for i, c := range row.Cells {
		if c != nil {
			fmt.Printf("%s: %s\n", report.VariantTitle(t.Variants[i], t.Depth), c.Text())
		}
	}
	fmt.Println("best:", t.Variants[row.Best[0]])
	t.CSV(os.Stdout)
	// Output:
	// ResNet50: 71.00 ± 1.00 (3)
	// CSCA-ResNet50: 75.33 ± 1.53 (3)
	// best: csca
	// dataset,none_mean,none_std,none_n,fcn_mean,fcn_std,fcn_n,ca_mean,ca_std,ca_n,sa_mean,sa_std,sa_n,csca_mean,csca_std,csca_n,best
	// cub,71.0000,1.0000,3,,,0,,,0,,,0,75.3333,1.5275,3,csca
}
