package cli_test

import (
	"fmt"
	"testing"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/ops"
)

// TestDeterministic: what cli sets is what ops reads, so a deterministic session opens after it.
func TestDeterministic(t *testing.T) {
	t.Setenv(ops.DeterministicEnv, "") // restored after the test
	if ops.DeterministicKernels() {
		t.Fatal("deterministic kernels before cli.Deterministic")
	}
	if err := cli.Deterministic(); err != nil {
		t.Fatal(err)
	}
	if !ops.DeterministicKernels() {
		t.Errorf("cli.Deterministic did not set %s as ops reads it", ops.DeterministicEnv)
	}
}

// A command whose configuration asks for determinism sets it before its first session.
func ExampleDeterministic() {
	if err := cli.Deterministic(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ops.DeterministicKernels())
	// Output: true
}
