package tfsetup_test

import (
	"fmt"

	"github.com/finegrain/finegrain/internal/tfsetup"
)

// Where would the TensorFlow installed under /usr/local find cuDNN? (Nowhere, for the CPU build: it has
// no RUNPATH.)
func ExampleSearchPath() {
	dirs, err := tfsetup.SearchPath("/usr/local/lib/libtensorflow_framework.so.2", "/usr/local/lib/libtensorflow_cc.so.2")
	if err != nil {
		fmt.Println(err)
		return
	}
	if p := tfsetup.Find("libcudnn.so.9", dirs); p != "" {
		fmt.Println("cuDNN:", p)
	} else {
		fmt.Println("cuDNN: not on the RUNPATH")
	}
}
