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
	os.Exit(m.Run())
}
