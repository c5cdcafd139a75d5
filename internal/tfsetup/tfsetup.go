package tfsetup

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CUDALibraries returns the sonames that TensorFlow's CUDA build opens at run time: the runtime, the
// math libraries, cuDNN, NCCL and CUPTI. scripts/tensorflow-cuda.env lists the same names (TF_CUDA_LIBS)
// for setup's own check; a test keeps the two lists equal.
func CUDALibraries() []string {
	return []string{
		"libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9", "libcufft.so.11",
		"libcusparse.so.12", "libcusolver.so.11", "libnccl.so.2", "libcupti.so.12",
	}
}

// DriverLibrary is the NVIDIA driver's user-space library. No wheel carries it: it comes with the
// driver, and without it TensorFlow sees no GPU.
const DriverLibrary = "libcuda.so.1"

// Runpath returns the directories that the dynamic loader searches, for the ELF object at path, before
// the system's: its DT_RUNPATH, or its DT_RPATH when it has no RUNPATH, in order, with $ORIGIN replaced
// by the directory of path and duplicates dropped. An object with neither has none.
func Runpath(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runpath of %s: %w", path, err)
	}
	defer f.Close()
	entries, err := f.DynString(elf.DT_RUNPATH)
	if err == nil && len(entries) == 0 {
		entries, err = f.DynString(elf.DT_RPATH)
	}
	if err != nil {
		return nil, fmt.Errorf("runpath of %s: %w", path, err)
	}
	origin, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("runpath of %s: %w", path, err)
	}
	var dirs []string
	for _, e := range entries {
		for _, d := range strings.Split(e, ":") {
			if d != "" {
				dirs = append(dirs, filepath.Clean(strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin).Replace(d)))
			}
		}
	}
	return unique(dirs), nil
}

// unique drops the repeats of dirs, keeping the first of each.
func unique(dirs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// SearchPath is the union of the Runpath of each of libs, in order: the directories where the loader
// finds a library that one of them opens (TensorFlow opens cuSOLVER from libtensorflow_cc.so.2, the
// others from libtensorflow_framework.so.2, each through its own RUNPATH).
func SearchPath(libs ...string) ([]string, error) {
	var dirs []string
	for _, l := range libs {
		ds, err := Runpath(l)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, ds...)
	}
	return unique(dirs), nil
}

// Find returns the path of name in the first of dirs that holds it as a regular file (or a link to
// one), or "" if none does.
func Find(name string, dirs []string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
