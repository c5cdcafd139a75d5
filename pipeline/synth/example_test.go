package synth_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/finegrain/finegrain/pipeline/datasets"
	"github.com/finegrain/finegrain/pipeline/synth"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "synth")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := synth.Config{Classes: 5, PerClass: 8, Size: 64, Difficulty: 0.5, Seed: 1}
	if err := synth.Generate(context.Background(), dir, cfg); err != nil {
		log.Fatal(err)
	}
	idx, err := datasets.Open("synthetic", dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(idx.Classes), "species:", idx.Classes[0], "/", idx.Classes[1])
	fmt.Println(len(idx.Train), "training and", len(idx.Test), "test images")
	// Output:
	// 5 species: Red_barred_Finch / Yellow_barred_Finch
	// 20 training and 20 test images
}
