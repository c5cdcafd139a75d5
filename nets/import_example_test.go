package nets_test

import (
	"fmt"
	"strings"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/weights"
)

func zeros(shape ...int64) *weights.Tensor {
	return &weights.Tensor{DType: "F32", Shape: shape, Data: make([]byte, 4*weights.Numel(shape))}
}

// PlanImport decides, without a session, what an import does: here a 1000-class file into a
// 10-class model, whose classifier starts fresh.
func ExamplePlanImport() {
	vars := []nets.VarSpec{
		{Name: "conv1/kernel", Shape: []int64{7, 7, 3, 64}},
		{Name: "bn1/gamma", Shape: []int64{64}},
		{Name: "fc/kernel", Shape: []int64{64, 10}},
		{Name: "fc/bias", Shape: []int64{10}},
	}
	f := &weights.File{Path: "resnet.pth", Tensors: map[string]*weights.Tensor{
		"conv1.weight":            zeros(64, 3, 7, 7),
		"bn1.weight":              zeros(64),
		"bn1.num_batches_tracked": {DType: "I64", Shape: []int64{}, Data: make([]byte, 8)},
		"fc.weight":               zeros(1000, 64),
		"fc.bias":                 zeros(1000),
	}}
	p, err := nets.PlanImport(vars, f, nets.ImportOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range p.Assign {
		fmt.Println(strings.TrimSpace(m.Tensor + " -> " + m.Variable + " " + m.Convert))
	}
	fmt.Println("initialised:", p.Report.Initialised)
	fmt.Println("skipped:", p.Report.Skipped)
	fmt.Println(p.Report.Notes[0])
	// Output:
	// conv1.weight -> conv1/kernel OIHW→HWIO
	// bn1.weight -> bn1/gamma
	// initialised: [fc/kernel fc/bias]
	// skipped: [bn1.num_batches_tracked]
	// the file's classifier has 1000 classes and the model's 10: the classifier starts fresh
}
