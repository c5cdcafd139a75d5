package datasets_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/datasets"
)

func ExampleOpen() {
	// A class-folder dataset without train/ and test/ folders: root/<class>/*.jpg. TestSplit holds
	// out half of each class as the test split. (The files need not be valid images to be
	// indexed, only non-empty regular files.)
	root, err := os.MkdirTemp("", "folder")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	for _, p := range []string{"sparrow/1.jpg", "sparrow/2.jpg", "finch/1.jpg", "finch/2.png"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte("not decoded by Open"), 0o644)
	}
	idx, err := datasets.Open("folder", root, datasets.TestSplit(0.5, 1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(idx.Classes, len(idx.Train), "train", len(idx.Test), "test")
	// Output: [finch sparrow] 2 train 2 test
}

func ExampleSplitValidation() {
	var records []pipeline.Record
	for i := range 40 {
		records = append(records, pipeline.Record{Path: fmt.Sprintf("%02d.jpg", i), Label: i % 4})
	}
	train, val, err := datasets.SplitValidation(records, 0.1, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(train), "train,", len(val), "validation: one per class")
	// Output: 36 train, 4 validation: one per class
}
