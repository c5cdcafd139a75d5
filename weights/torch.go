package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// PyTorch's torch.save writes a pickle whose tensors refer to storages by a persistent id. Since torch
// 1.6 the file is a zip archive: <name>/data.pkl holds the pickle, <name>/data/<key> the raw bytes of
// each storage, <name>/byteorder (torch >= 2.1) says "little". Before, the legacy format is a sequence
// of pickles in one stream: a magic number, the protocol version 1001, a system-info dict, the object,
// the list of storage keys, then for each key an 8-byte element count and the raw bytes.
//
// gopickle's pickle machine does the unpickling. The torch layer on top (which classes a tensor, a
// storage or a parameter are, and where the bytes are) is done here rather than by gopickle's pytorch
// package, whose v0.2.0 panics or loops on some inputs (a tar-like header, an all-zero file, storage
// views), allocates every storage at the size the file claims before checking it, and reads every
// storage of a checkpoint, optimizer state included, one element at a time.

// legacyMagic is the magic number that starts a legacy torch.save file, in hexadecimal.
const legacyMagic = "1950a86a20f9469cfc6c"

// storageTypes are the storage classes of torch.save pickles and the dtypes they hold.
var storageTypes = map[string]string{
	"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

// storageType is a torch.*Storage class in the pickle.
type storageType struct{ dtype string }

// storage is one storage of the file: its dtype and element count from the pickle, its bytes once read.
type storage struct {
	dtype string
	size  int64 // bytes per element
	numel int64
	key   string
	data  []byte
	read  bool
}

// torchTensor is a tensor of the pickle: a view of a storage, not yet copied out.
type torchTensor struct {
	st     *storage
	offset int64
	shape  []int64
	stride []int64
}

// rebuildTensor is torch._utils._rebuild_tensor_v2 (storage, offset, size, stride, requires_grad,
// backward_hooks[, metadata]) and the older _rebuild_tensor (storage, offset, size, stride).
type rebuildTensor struct{}

func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) != 4 && len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want 4, 6 or 7", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: first argument is %T, not a storage", args[0])
	}
	offset, ok := args[1].(int)
	if !ok || offset < 0 {
		return nil, fmt.Errorf("_rebuild_tensor: storage offset %v", args[1])
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: size: %w", err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: stride: %w", err)
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor: size %v and stride %v differ in rank", shape, stride)
	}
	return &torchTensor{st: st, offset: int64(offset), shape: shape, stride: stride}, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad, backward_hooks[, state]):
// an nn.Parameter is its tensor here.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("_rebuild_parameter: no arguments")
	}
	return args[0], nil
}

// rebuildFromType is torch._tensor._rebuild_from_type_v2(func, type, args, state): a tensor subclass
// rebuilt by func(*args).
type rebuildFromType struct{}

func (rebuildFromType) Call(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_rebuild_from_type_v2: %d arguments, want 4", len(args))
	}
	f, ok := args[0].(types.Callable)
	t, ok2 := args[2].(*types.Tuple)
	if !ok || !ok2 {
		return nil, errors.New("_rebuild_from_type_v2: unexpected arguments")
	}
	return f.Call(*t...)
}

// opaqueClass is any other class or function of the pickle (argparse.Namespace, numpy scalars, a
// pickled nn.Module's classes): calling or instantiating it gives an opaque object that records its
// name and accepts any state, so checkpoints that hold such things beside their state dict load.
type opaqueClass struct{ module, name string }

// opaque is an instance of an opaqueClass.
type opaque struct{ class *opaqueClass }

func (c *opaqueClass) Call(...any) (any, error)  { return &opaque{c}, nil }
func (c *opaqueClass) PyNew(...any) (any, error) { return &opaque{c}, nil }
func (o *opaque) PySetState(any) error           { return nil }
func (o *opaque) PyDictSet(any, any) error       { return nil }
func (o *opaque) PySetAttr(string, any) error    { return nil }
func (o *opaque) String() string                 { return o.class.module + "." + o.class.name }
func (c *opaqueClass) String() string            { return c.module + "." + c.name }
func (storageType) Call(...any) (any, error)     { return nil, errors.New("a storage class called") }
func (s storageType) PyNew(...any) (any, error)  { return s.Call() }
func (rebuildTensor) PyNew(...any) (any, error) {
	return nil, errors.New("_rebuild_tensor instantiated")
}
func (rebuildParameter) PyNew(...any) (any, error) {
	return nil, errors.New("_rebuild_parameter instantiated")
}

// findClass resolves the globals of a torch.save pickle.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return rebuildParameter{}, nil
	case "torch._tensor._rebuild_from_type_v2":
		return rebuildFromType{}, nil
	}
	if module == "torch" {
		if dt, ok := storageTypes[name]; ok {
			return storageType{dt}, nil
		}
	}
	if module == "torch._utils" && strings.HasPrefix(name, "_rebuild_") {
		return nil, fmt.Errorf("%s.%s: tensors of this kind (quantized, sparse, meta or on another device) are not supported; save a plain float state dict", module, name)
	}
	return &opaqueClass{module, name}, nil
}

// unpickler is gopickle's machine over r with the torch classes and the persistent-load function pl.
func unpickler(r io.Reader, pl func(any) (any, error)) *pickle.Unpickler {
	u := pickle.NewUnpickler(r)
	u.FindClass = findClass
	u.PersistentLoad = pl
	return &u
}

// newStorage checks a persistent id's storage fields: ('storage', class, key, location, numel, ...).
func newStorage(t *types.Tuple, fields int) (*storage, error) {
	if t.Len() < fields {
		return nil, fmt.Errorf("persistent id %v: %d fields, want %d", *t, t.Len(), fields)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("persistent id of type %v, want storage", t.Get(0))
	}
	class, ok := t.Get(1).(storageType)
	if !ok {
		return nil, fmt.Errorf("storage of class %v: only float, integer and bool storages are supported", t.Get(1))
	}
	key, ok := t.Get(2).(string)
	if !ok {
		return nil, fmt.Errorf("storage key %v is not a string", t.Get(2))
	}
	numel, ok := t.Get(4).(int)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %s: element count %v", key, t.Get(4))
	}
	size, _ := dtypeSize(class.dtype)
	return &storage{dtype: class.dtype, size: size, numel: int64(numel), key: key}, nil
}

// decodeTorchZip unpickles the data.pkl of a torch.save zip archive; storages are read later, on
// demand, by the function it returns.
func decodeTorchZip(b []byte) (any, func(*storage) error, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("zip archive: %w (a truncated download?)", err)
	}
	records := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		records[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") <= 1 {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, nil, errors.New("zip archive without data.pkl: not a torch.save file")
	}
	dir := path.Dir(pkl.Name)
	rec := func(name string) *zip.File {
		if dir == "." {
			return records[name]
		}
		return records[dir+"/"+name]
	}
	if rec("constants.pkl") != nil {
		return nil, nil, errors.New("a TorchScript archive (torch.jit.save), not a state dict: in Python, torch.save(torch.jit.load(PATH).state_dict(), OUT)")
	}
	if f := rec("byteorder"); f != nil {
		order, err := readRecord(f, 16, int64(len(b)))
		if err != nil {
			return nil, nil, err
		}
		if string(order) != "little" {
			return nil, nil, fmt.Errorf("byteorder %q: only little-endian files are supported", order)
		}
	}
	p, err := readRecord(pkl, -1, int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	storages := map[string]*storage{}
	root, _, err := unpickle(p, func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok {
			return nil, fmt.Errorf("persistent id %v is not a tuple", id)
		}
		s, err := newStorage(t, 5)
		if err != nil {
			return nil, err
		}
		if old, ok := storages[s.key]; ok {
			return old, nil
		}
		storages[s.key] = s
		return s, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("data.pkl: %w", err)
	}
	load := func(s *storage) error {
		if s.read {
			return nil
		}
		f := rec("data/" + s.key)
		if f == nil {
			return fmt.Errorf("storage %s: no record data/%s in the archive (a truncated file?)", s.key, s.key)
		}
		want := s.numel * s.size
		if s.numel > math.MaxInt64/s.size || f.UncompressedSize64 != uint64(want) {
			return fmt.Errorf("storage %s: record of %d bytes for %d %s elements (%d bytes)", s.key, f.UncompressedSize64, s.numel, s.dtype, want)
		}
		data, err := readRecord(f, want, int64(len(b)))
		if err != nil {
			return err
		}
		s.data, s.read = data, true
		return nil
	}
	return root, load, nil
}

// readRecord reads a zip record of at most limit bytes (-1: its declared size), refusing a size the
// archive cannot hold (stored records) or a decompression bomb.
func readRecord(f *zip.File, limit, archive int64) ([]byte, error) {
	size := f.UncompressedSize64
	if limit >= 0 && size > uint64(limit) {
		return nil, fmt.Errorf("record %s: %d bytes, want at most %d", f.Name, size, limit)
	}
	if (f.Method == zip.Store && size > uint64(archive)) || size > uint64(archive)*64+1<<20 {
		return nil, fmt.Errorf("record %s claims %d bytes, more than the %d-byte archive holds", f.Name, size, archive)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer r.Close()
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("record %s: %w (a truncated file?)", f.Name, err)
	}
	return out, nil
}

// unpickle runs gopickle on the pickle at the start of b, after pickleExtent has checked its lengths,
// and returns the object and the pickle's length.
func unpickle(b []byte, pl func(any) (any, error)) (any, int, error) {
	n, err := pickleExtent(b)
	if err != nil {
		return nil, 0, err
	}
	v, err := unpickler(bytes.NewReader(b[:n]), pl).Load()
	return v, n, err
}

// decodeTorchLegacy reads a legacy (torch < 1.6, or _use_new_zipfile_serialization=False) file: the
// object, then every storage in the order of the key list that follows it.
func decodeTorchLegacy(b []byte) (any, error) {
	pos := 0
	next := func(what string, pl func(any) (any, error)) (any, error) {
		v, n, err := unpickle(b[pos:], pl)
		if err != nil {
			return nil, fmt.Errorf("legacy torch file: %s: %w", what, err)
		}
		pos += n
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, fmt.Errorf("legacy torch file: magic number %v, want 0x%s", magic, legacyMagic)
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != 1001 {
		return nil, fmt.Errorf("legacy torch file: protocol version %v, want 1001", proto)
	}
	info, err := next("system info", nil)
	if err != nil {
		return nil, err
	}
	if le, ok := dictGet(info, "little_endian"); ok && le != true {
		return nil, errors.New("legacy torch file written on a big-endian machine: not supported")
	}
	storages := map[string]*storage{}
	root, err := next("object", func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() == 0 {
			return nil, fmt.Errorf("persistent id %v is not a tuple", id)
		}
		if s, _ := t.Get(0).(string); s == "module" && t.Len() >= 2 {
			return t.Get(1), nil // the source code of a pickled module
		}
		s, err := newStorage(t, 6)
		if err != nil {
			return nil, err
		}
		if t.Get(5) != nil {
			return nil, fmt.Errorf("storage %s is a view of another storage (files of torch < 0.4): not supported", s.key)
		}
		if old, ok := storages[s.key]; ok {
			return old, nil
		}
		storages[s.key] = s
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	keys, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*types.List)
	if !ok {
		return nil, fmt.Errorf("legacy torch file: storage keys are %T, not a list", keys)
	}
	for _, k := range *list {
		key, _ := k.(string)
		s, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("legacy torch file: storage key %v that no tensor uses", k)
		}
		if len(b)-pos < 8 {
			return nil, fmt.Errorf("legacy torch file: storage %s: the file ends (a truncated file?)", key)
		}
		numel := binary.LittleEndian.Uint64(b[pos:])
		pos += 8
		left := int64(len(b) - pos)
		if numel != uint64(s.numel) || s.numel > left/s.size {
			return nil, fmt.Errorf("legacy torch file: storage %s of %d elements (%d in the pickle), %d bytes left in the file (a truncated file?)", key, numel, s.numel, left)
		}
		n := int(s.numel * s.size)
		s.data, s.read = b[pos:pos+n:pos+n], true
		pos += n
	}
	return root, nil
}

// materialize copies the tensor's view out of its storage into a contiguous row-major Tensor.
func (t *torchTensor) materialize(fileSize int64) (*Tensor, error) {
	s := t.st
	if !s.read {
		return nil, fmt.Errorf("storage %s was never read", s.key)
	}
	numel, last := int64(1), t.offset
	for i, d := range t.shape {
		if d < 0 || t.stride[i] < 0 {
			return nil, fmt.Errorf("size %v, stride %v", t.shape, t.stride)
		}
		if d == 0 {
			numel = 0
			break
		}
		if numel > math.MaxInt64/d || t.stride[i] > (math.MaxInt64-last)/d {
			return nil, fmt.Errorf("size %v overflows", t.shape)
		}
		numel *= d
		last += (d - 1) * t.stride[i]
	}
	if numel == 0 {
		return &Tensor{DType: s.dtype, Shape: t.shape, Data: []byte{}}, nil
	}
	if last >= s.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of a %d-element storage", t.offset, t.shape, t.stride, last, s.numel)
	}
	if numel > (4*fileSize+1<<20)/s.size {
		return nil, fmt.Errorf("size %v: %d elements, more than the file could expand to", t.shape, numel)
	}
	e := s.size
	contiguous, want := true, int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != want {
			contiguous = false
		}
		want *= t.shape[i]
	}
	if contiguous {
		data := make([]byte, numel*e)
		copy(data, s.data[t.offset*e:])
		return &Tensor{DType: s.dtype, Shape: t.shape, Data: data}, nil
	}
	data := make([]byte, 0, numel*e)
	idx := make([]int64, len(t.shape))
	for range numel {
		at := t.offset
		for i, j := range idx {
			at += j * t.stride[i]
		}
		data = append(data, s.data[at*e:(at+1)*e]...)
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < t.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return &Tensor{DType: s.dtype, Shape: t.shape, Data: data}, nil
}

// intTuple converts a pickled tuple of ints.
func intTuple(v any) ([]int64, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int64, t.Len())
	for i := range out {
		x, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("element %d is %v, not an int", i, t.Get(i))
		}
		out[i] = int64(x)
	}
	return out, nil
}

// item is one entry of a pickled dict with a string key.
type item struct {
	key   string
	value any
}

// dictItems lists a pickled dict's string-keyed entries in order; ok is false for anything else.
func dictItems(v any) (items []item, ok bool) {
	switch d := v.(type) {
	case *types.Dict:
		for _, e := range *d {
			if k, ok := e.Key.(string); ok {
				items = append(items, item{k, e.Value})
			}
		}
		return items, true
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry, _ := e.Value.(*types.OrderedDictEntry)
			if entry == nil {
				continue
			}
			if k, ok := entry.Key.(string); ok {
				items = append(items, item{k, entry.Value})
			}
		}
		return items, true
	}
	return nil, false
}

// dictGet is the value of key in a pickled dict.
func dictGet(v any, key string) (any, bool) {
	items, _ := dictItems(v)
	for _, it := range items {
		if it.key == key {
			return it.value, true
		}
	}
	return nil, false
}
