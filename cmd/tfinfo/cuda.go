package main

/*
#cgo LDFLAGS: -ltensorflow -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include "tensorflow/c/c_api.h"

// lib_of returns the file of the loaded library that defines sym, or NULL.
static const char *lib_of(void *sym) {
	Dl_info info;
	if (dladdr(sym, &info) == 0) return NULL;
	return info.dli_fname;
}
static const char *framework_file(void) { return lib_of((void *)TF_NewStatus); }
static const char *cc_file(void) { return lib_of((void *)TF_Version); }

// open_lib opens name as TensorFlow's loader does (RTLD_NOW | RTLD_LOCAL: every symbol of it and of its
// dependencies resolved now) and returns the file it loaded, or NULL with *err set to dlerror()'s text.
// The library stays loaded: TensorFlow would get the same handle.
static const char *open_lib(const char *name, const char **err) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		*err = dlerror();
		return NULL;
	}
	struct link_map *lm = NULL;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL && lm->l_name[0] != 0)
		return lm->l_name;
	return name;
}

// registered_kernels returns TF_GetAllRegisteredKernels' serialized KernelList, to be freed with
// TF_DeleteBuffer, or NULL with the status set.
static TF_Buffer *registered_kernels(TF_Status *s) { return TF_GetAllRegisteredKernels(s); }
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	kpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/kernel_def_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/internal/tfsetup"
)

// cudaLib is one library TensorFlow's CUDA build opens at run time, and where it was found.
type cudaLib struct {
	Name string
	Path string // the file loaded; "" if it could not be
	Err  string // why not
}

// cudaReport is what tfinfo finds out about the CUDA side of the TensorFlow library it runs on.
type cudaReport struct {
	Framework  string // the loaded libtensorflow_framework.so.2
	GPUKernels int    // kernels registered for GPU devices (a CPU-only build registers some too)
	// GPUConv2D: a GPU kernel of Conv2D is registered, which only a CUDA (or ROCm) build does.
	GPUConv2D bool
	Libs      []cudaLib
	Driver    cudaLib
	GPU       bool // TensorFlow lists a GPU device
}

// CUDA reports whether the library is a CUDA build.
func (r cudaReport) CUDA() bool { return r.GPUConv2D }

// probeCUDA finds the loaded TensorFlow library, asks the C API's kernel registry (the one question it
// answers about the build) whether a GPU Conv2D kernel is registered and, for a CUDA build, opens each CUDA library the way
// TensorFlow will: through the RUNPATH of the TensorFlow libraries, else through the system's search
// path. TensorFlow itself opens them only once the driver reports a GPU, so on a machine without one
// this is the only way to learn whether they would load.
func probeCUDA(gpu bool) (cudaReport, error) {
	r := cudaReport{GPU: gpu}
	fw, cc := C.framework_file(), C.cc_file()
	if fw == nil || cc == nil {
		return r, errors.New("cuda probe: cannot find the loaded TensorFlow libraries (dladdr)")
	}
	r.Framework = C.GoString(fw)
	n, conv, err := gpuKernels()
	if err != nil {
		return r, err
	}
	r.GPUKernels, r.GPUConv2D = n, conv
	if !r.CUDA() {
		return r, nil
	}
	dirs, err := tfsetup.SearchPath(r.Framework, C.GoString(cc))
	if err != nil {
		return r, fmt.Errorf("cuda probe: %w", err)
	}
	for _, name := range tfsetup.CUDALibraries() {
		target := name
		if p := tfsetup.Find(name, dirs); p != "" {
			target = p
		}
		r.Libs = append(r.Libs, openLib(name, target))
	}
	r.Driver = openLib(tfsetup.DriverLibrary, tfsetup.DriverLibrary)
	return r, nil
}

func openLib(name, target string) cudaLib {
	cs := C.CString(target)
	defer C.free(unsafe.Pointer(cs))
	var cerr *C.char
	l := cudaLib{Name: name}
	if p := C.open_lib(cs, &cerr); p != nil {
		l.Path = C.GoString(p)
	} else {
		l.Err = C.GoString(cerr)
	}
	return l
}

// gpuKernels counts the kernels registered for device type GPU and says whether Conv2D is one of them.
func gpuKernels() (n int, conv2D bool, err error) {
	s := C.TF_NewStatus()
	defer C.TF_DeleteStatus(s)
	buf := C.registered_kernels(s)
	if C.TF_GetCode(s) != C.TF_OK {
		return 0, false, fmt.Errorf("cuda probe: registered kernels: %s", C.GoString(C.TF_Message(s)))
	}
	defer C.TF_DeleteBuffer(buf)
	var list kpb.KernelList
	if err := proto.Unmarshal(C.GoBytes(buf.data, C.int(buf.length)), &list); err != nil {
		return 0, false, fmt.Errorf("cuda probe: registered kernels: %w", err)
	}
	for _, k := range list.Kernel {
		if k.DeviceType == "GPU" {
			n++
			conv2D = conv2D || k.Op == "Conv2D"
		}
	}
	return n, conv2D, nil
}

// write prints the report, and returns an error for a CUDA build that could not load a library it
// needs: TensorFlow would then run on the CPU alone, with no more than a log line to say so.
func (r cudaReport) write(w io.Writer) error {
	fmt.Fprintln(w, "library", r.Framework)
	if !r.CUDA() {
		fmt.Fprintf(w, "build: CPU only (no GPU Conv2D kernel; %d GPU kernels registered)\n", r.GPUKernels)
		return nil
	}
	fmt.Fprintf(w, "build: CUDA (%d GPU kernels registered)\n", r.GPUKernels)
	var missing []string
	for _, l := range r.Libs {
		if l.Path != "" {
			fmt.Fprintf(w, "cuda %s: loaded %s\n", l.Name, l.Path)
		} else {
			fmt.Fprintf(w, "cuda %s: NOT LOADED (%s)\n", l.Name, l.Err)
			missing = append(missing, l.Name)
		}
	}
	if r.Driver.Path != "" {
		fmt.Fprintf(w, "driver %s: loaded %s\n", r.Driver.Name, r.Driver.Path)
	} else {
		fmt.Fprintf(w, "driver %s: not found (%s)\n", r.Driver.Name, r.Driver.Err)
	}
	switch {
	case r.GPU:
		fmt.Fprintln(w, "gpu: yes")
	case r.Driver.Path == "":
		fmt.Fprintln(w, "gpu: none (no NVIDIA driver); TensorFlow falls back to the CPU")
	default:
		fmt.Fprintln(w, "gpu: none visible to TensorFlow (driver present: check nvidia-smi and CUDA_VISIBLE_DEVICES); TensorFlow falls back to the CPU")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the CUDA build cannot load %s: reinstall with TF_VARIANT=gpu make setup", strings.Join(missing, ", "))
	}
	return nil
}
