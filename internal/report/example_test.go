package report_test

import (
	"fmt"
	"math"
	"os"

	"github.com/finegrain/finegrain/internal/report"
)

// Runs as Load returns them, grouped into the paper's layout.
func ExampleNewTable() {
	var runs []report.Run
	for seed, acc := range map[int64][2]float64{1: {0.70, 0.74}, 2: {0.72, 0.77}, 3: {0.71, 0.75}} {
		for i, v := range []string{"none", "csca"} {
			runs = append(runs, report.Run{Summary: report.Summary{
				Dataset: "cub", DataRoot: "data/CUB_200_2011", NumClasses: 200, Attention: v, Seed: seed, TestTop1: acc[i],
				Depth: 50, ImageSize: 448, Epochs: 100, Selection: "last"}})
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
			fmt.Printf("%s: %s\n", t.Columns[i].Title, c.Text())
		}
	}
	fmt.Println("best:", t.Columns[row.Best[0]].ID)
	t.CSV(os.Stdout)
	// Output:
	// ResNet50: 71.00 ± 1.00 (3)
	// CSCA-ResNet50: 75.33 ± 1.53 (3)
	// best: csca
	// dataset,none_mean,none_std,none_n,fcn_mean,fcn_std,fcn_n,ca_mean,ca_std,ca_n,sa_mean,sa_std,sa_n,csca_mean,csca_std,csca_n,best,format,data_root,classes
	// CUB_200_2011,71.0000,1.0000,3,,,0,,,0,,,0,75.3333,1.5275,3,csca,cub,data/CUB_200_2011,200
}

// Each variant against ResNet of the same seed: the mean of the per-seed differences and its standard
// error, for the selected checkpoint and for the last epoch's model.
func ExampleTable_PairedDifferences() {
	var runs []report.Run
	for seed, acc := range map[int64][2]float64{1: {0.70, 0.74}, 2: {0.72, 0.77}, 3: {0.71, 0.73}} {
		for i, v := range []string{"none", "csca"} {
			runs = append(runs, report.Run{Summary: report.Summary{
				Dataset: "cub", DataRoot: "data/CUB_200_2011", NumClasses: 200, Attention: v, Seed: seed, TestTop1: acc[i],
				Depth: 50, Epochs: 100, BestEpoch: 100, Selection: "last", FinalTestTop1: math.NaN()}})
		}
	}
	t, err := report.NewTable(runs, "test_top1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range t.PairedDifferences() {
		fmt.Printf("%s − %s: %v points per seed, %s\n", t.Columns[p.Column].Title, t.Columns[p.Baseline].Title, p.Selected.Diffs, p.Selected.Text())
	}
	// Output:
	// CSCA-ResNet50 − ResNet50: [4 5 2] points per seed, +3.67 ± 0.88 (3)
}

// A run that selected an earlier epoch on its validation split never tested its last epoch's model.
func ExampleFinalTop1() {
	for _, s := range []report.Summary{
		{Selection: "best_val", Epochs: 30, BestEpoch: 30, TestTop1: 0.61, FinalTestTop1: math.NaN()},
		{Selection: "best_val", Epochs: 30, BestEpoch: 24, TestTop1: 0.63, FinalTestTop1: math.NaN()},
	} {
		top1, why := report.FinalTop1(report.Run{Summary: s})
		if why != "" {
			fmt.Println("unknown:", why)
			continue
		}
		fmt.Println(top1)
	}
	// Output:
	// 0.61
	// unknown: the model of an earlier epoch was selected (best_val) and the run did not test its last epoch's
}
