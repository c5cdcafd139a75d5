package cli

import (
	"fmt"
	"os"
	"syscall"
)

// LogLevelEnv is the environment variable that sets the lowest severity of TensorFlow's C++ log lines
// (0 INFO, 1 WARNING, 2 ERROR).
const LogLevelEnv = "TF_CPP_MIN_LOG_LEVEL"

// deterministicEnv is ops.DeterministicEnv; cli does not import ops so that ops can keep its deprecated
// QuietLogs on top of this package.
const deterministicEnv = "TF_DETERMINISTIC_OPS"

// QuietLogs keeps TensorFlow's C++ INFO lines (CPU feature notes, MLIR passes) off a command's stderr
// unless the user set LogLevelEnv. TensorFlow reads that variable when the library loads, before main
// runs, so the only way to set it for this process is to re-execute it with the variable set. Commands
// call QuietLogs first thing in main; if the re-exec fails the command just goes on, as loud as before.
func QuietLogs() {
	if _, set := os.LookupEnv(LogLevelEnv); set {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), LogLevelEnv+"=1")
	_ = syscall.Exec(self, os.Args, env) // returns only on failure
}

// Deterministic makes TensorFlow select deterministic kernels in this process: it must run before the
// first session runs an op, since TensorFlow reads the variable once, when an op first asks. A command
// calls it when its configuration asks for determinism (train.deterministic), and then
// ops.SessionConfig.Deterministic sessions open.
func Deterministic() error {
	if err := os.Setenv(deterministicEnv, "1"); err != nil {
		return fmt.Errorf("set %s: %w", deterministicEnv, err)
	}
	return nil
}
