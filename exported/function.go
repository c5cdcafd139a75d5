package exported

// #cgo LDFLAGS: -ltensorflow
// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	fpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	"google.golang.org/protobuf/proto"
)

// graphFunction turns the whole of g into a FunctionDef named name, whose arguments are the
// placeholders inputs and whose results are outputs (named by outNames). The Go binding cannot build
// functions, so this goes through the C API's TF_GraphToFunction on a private copy of g.
func graphFunction(g *tf.Graph, name string, inputs, outputs []tf.Output, outNames []string) (*fpb.FunctionDef, error) {
	var def bytes.Buffer
	if _, err := g.WriteTo(&def); err != nil {
		return nil, fmt.Errorf("function %s: serialize body: %w", name, err)
	}
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	cg := C.TF_NewGraph()
	defer C.TF_DeleteGraph(cg)
	buf := C.TF_NewBufferFromString(unsafe.Pointer(&def.Bytes()[0]), C.size_t(def.Len()))
	opts := C.TF_NewImportGraphDefOptions()
	C.TF_GraphImportGraphDef(cg, buf, opts, status)
	C.TF_DeleteImportGraphDefOptions(opts)
	C.TF_DeleteBuffer(buf)
	if err := statusErr(status); err != nil {
		return nil, fmt.Errorf("function %s: import body: %w", name, err)
	}
	lookup := func(outs []tf.Output) (*C.TF_Output, func(), error) {
		if len(outs) == 0 {
			return nil, func() {}, nil
		}
		arr := unsafe.Slice((*C.TF_Output)(C.malloc(C.size_t(len(outs))*C.size_t(unsafe.Sizeof(C.TF_Output{})))), len(outs))
		free := func() { C.free(unsafe.Pointer(&arr[0])) }
		for i, o := range outs {
			cname := C.CString(o.Op.Name())
			oper := C.TF_GraphOperationByName(cg, cname)
			C.free(unsafe.Pointer(cname))
			if oper == nil {
				free()
				return nil, nil, fmt.Errorf("no operation %q", o.Op.Name())
			}
			arr[i] = C.TF_Output{oper: oper, index: C.int(o.Index)}
		}
		return &arr[0], free, nil
	}
	cin, freeIn, err := lookup(inputs)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	defer freeIn()
	cout, freeOut, err := lookup(outputs)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	defer freeOut()
	cnames := make([]*C.char, len(outNames))
	for i, n := range outNames {
		cnames[i] = C.CString(n)
		defer C.free(unsafe.Pointer(cnames[i]))
	}
	cnamesArr := (**C.char)(C.malloc(C.size_t(len(cnames)+1) * C.size_t(unsafe.Sizeof(cnames[0]))))
	defer C.free(unsafe.Pointer(cnamesArr))
	copy(unsafe.Slice(cnamesArr, len(cnames)), cnames)
	cfn := C.CString(name)
	defer C.free(unsafe.Pointer(cfn))
	fn := C.TF_GraphToFunction(cg, cfn, 0, -1, nil, C.int(len(inputs)), cin, C.int(len(outputs)), cout, cnamesArr, nil, nil, status)
	if err := statusErr(status); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	defer C.TF_DeleteFunction(fn)
	out := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(out)
	C.TF_FunctionToFunctionDef(fn, out, status)
	if err := statusErr(status); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	fdef := &fpb.FunctionDef{}
	if err := proto.Unmarshal(C.GoBytes(out.data, C.int(out.length)), fdef); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	return fdef, nil
}

func statusErr(s *C.TF_Status) error {
	if C.TF_GetCode(s) == C.TF_OK {
		return nil
	}
	return fmt.Errorf("%s", C.GoString(C.TF_Message(s)))
}
