package matfile_test

import (
	"fmt"
	"log"

	"github.com/finegrain/finegrain/pipeline/matfile"
)

func ExampleReadFile() {
	// testdata/cars_meta.mat was written by scipy.io.savemat, shaped like Stanford Cars' devkit file.
	vars, err := matfile.ReadFile("testdata/cars_meta.mat")
	if err != nil {
		log.Fatal(err)
	}
	v := vars["class_names"]
	names, err := v.Strings()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	fmt.Println(names[0])
	// Output:
	// class_names: 1x3 cell
	// AM General Hummer SUV 2000
}
