package train

import (
	"fmt"
	"os"
	"testing"

	"github.com/finegrain/finegrain/internal/cli"
)

// TestMain sets up the test process as cmd/train sets up its own: tinyConfig asks for deterministic
// kernels, which TensorFlow takes only from the process environment.
func TestMain(m *testing.M) {
	if err := cli.Deterministic(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// TensorFlow gives every session in a process the intra-op thread pool of the first one unless
	// this is set; TestClusterTraining compares in-process towers with workers running one thread, which
	// needs the in-process sessions to run with their own runtime.intra_op_threads too.
	if err := os.Setenv("TF_OVERRIDE_GLOBAL_THREADPOOL", "1"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
