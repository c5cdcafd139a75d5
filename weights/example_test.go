package weights_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/finegrain/finegrain/weights"
)

// A state dict written as safetensors and read back: Read recognises the format from the content,
// strips DistributedDataParallel's "module." prefix and converts F16/BF16/F64 data to float32 on demand.
func Example() {
	dir, _ := os.MkdirTemp("", "weights-example")
	defer os.RemoveAll(dir)
	w, _ := weights.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := weights.FromFloat32s([]float32{0.5, -0.5}, 2)
	path := filepath.Join(dir, "model.safetensors")
	if err := weights.WriteSafetensors(path, map[string]*weights.Tensor{"module.fc.weight": w, "module.fc.bias": b}, nil); err != nil {
		fmt.Println(err)
		return
	}
	f, err := weights.Read(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Format, f.Prefix, f.Names())
	vals, _ := f.Tensors["fc.weight"].Float32s()
	fmt.Println(f.Tensors["fc.weight"].Shape, vals)
	// Output:
	// safetensors module. [fc.bias fc.weight]
	// [2 3] [1 2 3 4 5 6]
}

// Decode says what a file is when it is not a weights file.
func ExampleDecode() {
	_, err := weights.Decode([]byte("<html><body>404 Not Found</body></html>"))
	fmt.Println(err)
	// Output:
	// neither a safetensors nor a torch.save file (starts with "<html><body>404 "); an HTML error page or a partial download?
}
