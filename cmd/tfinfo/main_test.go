package main

import (
	"strings"
	"testing"

	"github.com/finegrain/finegrain/ops"
)

func TestRun(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{args: nil, code: 0, stdout: "[[1 2] [3 4]] x [[10] [100]] = [[210] [430]]\n"},
		{args: nil, code: 0, stdout: "\nbuild: "},
		{args: []string{"-h"}, code: 0, stderr: "Examples:\n  go run ./cmd/tfinfo\n"},
		{args: []string{"-x"}, code: 2, stderr: "flag provided but not defined: -x"},
		{args: []string{"extra"}, code: 2, stderr: "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("tfinfo %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, tc.code, stdout.String(), tc.stdout, stderr.String(), tc.stderr)
		}
		if tc.code != 0 || len(tc.args) > 0 {
			if strings.Contains(stdout.String(), "TensorFlow") {
				t.Errorf("tfinfo %q probed TensorFlow: %q", tc.args, stdout.String())
			}
		}
	}
}

func TestCUDAReportWrite(t *testing.T) {
	loaded := func(names ...string) []cudaLib {
		var libs []cudaLib
		for _, n := range names {
			libs = append(libs, cudaLib{Name: n, Path: "/p/nvidia/x/lib/" + n})
		}
		return libs
	}
	noDriver := cudaLib{Name: "libcuda.so.1", Err: "libcuda.so.1: cannot open shared object file"}
	tests := []struct {
		name    string
		r       cudaReport
		want    []string
		wantErr string
	}{
		{name: "cpu build", r: cudaReport{Framework: "/usr/local/lib/libtensorflow_framework.so.2", GPUKernels: 469},
			want: []string{"library /usr/local/lib/libtensorflow_framework.so.2\n", "build: CPU only (no GPU Conv2D kernel; 469 GPU kernels registered)\n"}},
		{name: "cuda build, no driver", r: cudaReport{GPUKernels: 5015, GPUConv2D: true, Libs: loaded("libcudart.so.12", "libcudnn.so.9"), Driver: noDriver},
			want: []string{"build: CUDA (5015 GPU kernels registered)\n", "cuda libcudnn.so.9: loaded /p/nvidia/x/lib/libcudnn.so.9\n",
				"driver libcuda.so.1: not found (libcuda.so.1: cannot open", "gpu: none (no NVIDIA driver); TensorFlow falls back to the CPU\n"}},
		{name: "cuda build, driver, no gpu", r: cudaReport{GPUConv2D: true, Libs: loaded("libcudart.so.12"), Driver: cudaLib{Name: "libcuda.so.1", Path: "/usr/lib/libcuda.so.1"}},
			want: []string{"driver libcuda.so.1: loaded /usr/lib/libcuda.so.1\n", "gpu: none visible to TensorFlow (driver present"}},
		{name: "cuda build with a gpu", r: cudaReport{GPUConv2D: true, GPU: true, Libs: loaded("libcudart.so.12"), Driver: cudaLib{Name: "libcuda.so.1", Path: "/usr/lib/libcuda.so.1"}},
			want: []string{"gpu: yes\n"}},
		{name: "cuda build, library missing", r: cudaReport{GPUConv2D: true, Driver: noDriver,
			Libs: append(loaded("libcudart.so.12"), cudaLib{Name: "libcudnn.so.9", Err: "libcudnn.so.9: cannot open shared object file"})},
			want:    []string{"cuda libcudnn.so.9: NOT LOADED (libcudnn.so.9: cannot open shared object file)\n"},
			wantErr: "the CUDA build cannot load libcudnn.so.9: reinstall with TF_VARIANT=gpu make setup"},
	}
	for _, tc := range tests {
		var out strings.Builder
		err := tc.r.write(&out)
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out.String())
			}
		}
		if tc.r.CUDA() != strings.Contains(out.String(), "build: CUDA") {
			t.Errorf("%s: CUDA() = %v, output:\n%s", tc.name, tc.r.CUDA(), out.String())
		}
		if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestProbeCUDA checks the report on the library this test links: whichever build it is, a CUDA build
// must load every CUDA library (TF_VARIANT=gpu make setup installs them), and the driver and device
// lines must agree with what TensorFlow lists.
func TestProbeCUDA(t *testing.T) {
	rt, err := ops.Probe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := probeCUDA(rt.GPU)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.Framework, "libtensorflow_framework.so.2") {
		t.Errorf("loaded framework library %q", r.Framework)
	}
	if !r.CUDA() {
		if len(r.Libs) != 0 {
			t.Errorf("CPU build: CUDA libraries probed: %v", r.Libs)
		}
		if rt.GPU {
			t.Error("CPU build, yet TensorFlow lists a GPU")
		}
		return
	}
	for _, l := range r.Libs {
		if l.Path == "" {
			t.Errorf("CUDA build: %s not loaded: %s", l.Name, l.Err)
		}
	}
	if rt.GPU && r.Driver.Path == "" {
		t.Errorf("TensorFlow lists a GPU, but %s did not load: %s", r.Driver.Name, r.Driver.Err)
	}
}
