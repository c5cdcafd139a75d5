package sweep_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/finegrain/finegrain/internal/sweep"
)

// A grid of one configuration file for every variant: the sweep sets model.attention and train.seed.
func ExampleGrid_Runs() {
	dir, err := os.MkdirTemp("", "sweep-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "demo.yaml")
	os.WriteFile(config, []byte("data:\n  format: synthetic\n"), 0o644)

	g := sweep.Grid{
		Datasets: []string{"synthetic"},
		Variants: []string{"none", "csca"},
		Seeds:    []int64{1, 2},
		Config:   config,
		Sets:     []string{"train.epochs=2"},
		Out:      "runs/table1",
	}
	runs, err := g.Runs()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range runs {
		args := strings.Join(r.Args(false)[2:], " ") // without -config
		fmt.Printf("%-22s %s\n", r.Name(), args)
	}
	// Output:
	// synthetic/none/seed1   -set model.attention=none -set train.seed=1 -set train.epochs=2 -out runs/table1/synthetic/none/seed1
	// synthetic/csca/seed1   -set model.attention=csca -set train.seed=1 -set train.epochs=2 -out runs/table1/synthetic/csca/seed1
	// synthetic/none/seed2   -set model.attention=none -set train.seed=2 -set train.epochs=2 -out runs/table1/synthetic/none/seed2
	// synthetic/csca/seed2   -set model.attention=csca -set train.seed=2 -set train.epochs=2 -out runs/table1/synthetic/csca/seed2
}
