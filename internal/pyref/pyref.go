package pyref

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, searching upwards from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// TensorFlow returns the python of the project's venv, which has TensorFlow's Python API from the same
// wheel as the C library. Outside CI a missing venv skips the test with a message saying how to get it;
// under CI (CI=true) it fails, so a reference check can never silently vanish there.
func TensorFlow(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(root, ".venv", "bin", "python")
	return need(t, py, "import tensorflow", "TensorFlow's Python API (.venv; run 'make pyenv')")
}

// Torch returns a python that imports torch, torchvision, scipy and PIL (Debian's python3-torchvision
// under /usr/bin/python3, or FINEGRAIN_TORCH_PYTHON), under the same skip rule as TensorFlow.
func Torch(t testing.TB) string {
	t.Helper()
	py := os.Getenv("FINEGRAIN_TORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	return need(t, py, "import torch, torchvision, scipy.io, PIL", "torchvision (Debian's python3-torchvision; run 'make pyenv' as root)")
}

func need(t testing.TB, py, probe, what string) string {
	t.Helper()
	if out, err := exec.Command(py, "-c", probe).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("Python reference check needs %s: %s -c %q: %v\n%s", what, py, probe, err, lastLines(out, 5))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	return py
}

// Run runs a Python script (source text) with args and returns its standard output. The script's
// standard error is included in the failure message.
func Run(t testing.TB, py, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "PYTHONHASHSEED=0", "CUDA_VISIBLE_DEVICES=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python reference script failed: %v\n%s", err, lastLines(stderr.Bytes(), 30))
	}
	return stdout.Bytes()
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}
