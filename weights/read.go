package weights

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Formats a File can come from.
const (
	FormatSafetensors = "safetensors"
	FormatTorchZip    = "torch.save zip"
	FormatTorchLegacy = "torch.save legacy"
)

// File is a weights file read into memory: the tensors of its state dict by name and where they came
// from.
type File struct {
	Path   string // as given to Read ("" for Decode)
	Format string // FormatSafetensors, FormatTorchZip or FormatTorchLegacy
	SHA256 string // hex digest of the file's bytes
	Size   int64  // bytes
	// Tensors by name, after unwrapping and prefix stripping.
	Tensors map[string]*Tensor
	// Wrapper is the key of the dict the state dict was found under ("state_dict", "model",
	// "model_state_dict"; nested keys joined by "."), "" when the file is the state dict itself.
	Wrapper string
	// Prefix is the prefix stripped from every name ("module." for DistributedDataParallel), or "".
	Prefix string
	// Ignored lists the state dict's entries that are not tensors (a torch file may hold numbers or
	// strings beside them).
	Ignored []string
	// Metadata is a safetensors file's __metadata__.
	Metadata map[string]string
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// wrapperKeys are the keys a checkpoint dict may hold its state dict under, in the order tried.
var wrapperKeys = []string{"state_dict", "model", "model_state_dict"}

// stripPrefixes are the prefixes stripped when every name has them: DistributedDataParallel's and
// DataParallel's "module.".
var stripPrefixes = []string{"module."}

// Read reads a weights file: a safetensors file, or a torch.save file (.pth, .pt, .bin: zip or
// legacy). The format is recognised from the content, not the name. Errors name the file and say
// what was found instead.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("read weights %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Decode reads a weights file held in b; see Read. The tensors may alias b.
func Decode(b []byte) (f *File, err error) {
	sum := sha256.Sum256(b)
	f = &File{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
	switch {
	case isSafetensors(b):
		f.Format = FormatSafetensors
		ts, meta, err := ParseSafetensors(b)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		f.Tensors, f.Metadata = ts, meta
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		f.Format = FormatTorchZip
		if err := f.decodeTorch(b, true); err != nil {
			return nil, err
		}
	case len(b) > 2 && b[0] == 0x80 && b[1] <= 5: // a pickle's PROTO opcode
		f.Format = FormatTorchLegacy
		if err := f.decodeTorch(b, false); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("neither a safetensors nor a torch.save file (starts with %q); an HTML error page or a partial download?", head(b, 16))
	}
	f.strip()
	return f, nil
}

// decodeTorch unpickles a torch.save file, finds its state dict and copies its tensors out. gopickle
// may panic on malformed input; that becomes an error here.
func (f *File) decodeTorch(b []byte, isZip bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed %s file (the pickle reader failed: %v); a truncated or corrupted file?", f.Format, r)
		}
	}()
	var root any
	load := func(*storage) error { return nil }
	if isZip {
		root, load, err = decodeTorchZip(b)
	} else {
		root, err = decodeTorchLegacy(b)
	}
	if err != nil {
		return err
	}
	items, wrapper, err := findStateDict(root, "", 0)
	if err != nil {
		return err
	}
	f.Wrapper = wrapper
	f.Tensors = make(map[string]*Tensor, len(items))
	for _, it := range items {
		t, ok := it.value.(*torchTensor)
		if !ok {
			f.Ignored = append(f.Ignored, it.key)
			continue
		}
		if err := load(t.st); err != nil {
			return fmt.Errorf("tensor %s: %w", it.key, err)
		}
		if f.Tensors[it.key], err = t.materialize(int64(len(b))); err != nil {
			return fmt.Errorf("tensor %s: %w", it.key, err)
		}
	}
	return nil
}

// findStateDict finds the dict of tensors in a torch.save object: a dict under one of wrapperKeys
// (checked to a depth of 3), else the object itself when it is a dict holding tensors.
func findStateDict(v any, path string, depth int) ([]item, string, error) {
	items, ok := dictItems(v)
	if !ok {
		if o, ok := v.(*opaque); ok {
			return nil, "", fmt.Errorf("%sholds a pickled %s object (torch.save(model)), not a state dict: in Python, torch.save(model.state_dict(), PATH)", where(path), o)
		}
		return nil, "", fmt.Errorf("%sholds a %T, not a state dict (a dict of tensors)", where(path), v)
	}
	if depth < 3 {
		for _, k := range wrapperKeys {
			for _, it := range items {
				if _, isDict := dictItems(it.value); it.key == k && isDict {
					p := k
					if path != "" {
						p = path + "." + k
					}
					return findStateDict(it.value, p, depth+1)
				}
			}
		}
	}
	for _, it := range items {
		if _, ok := it.value.(*torchTensor); ok {
			return items, path, nil
		}
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.key
		if o, ok := it.value.(*opaque); ok && slices.Contains(wrapperKeys, it.key) {
			return nil, "", fmt.Errorf("%sholds under %q a pickled %s object (torch.save of a module), not a state dict: in Python, save model.state_dict() instead", where(path), it.key, o)
		}
	}
	if len(keys) > 12 {
		keys = append(keys[:12], "...")
	}
	return nil, "", fmt.Errorf("%sholds no tensors and none of the keys %s: found keys [%s]", where(path), strings.Join(wrapperKeys, ", "), strings.Join(keys, " "))
}

func where(path string) string {
	if path == "" {
		return "the file "
	}
	return fmt.Sprintf("the file's %q entry ", path)
}

// strip removes a prefix that every tensor name carries (repeatedly: module.module.).
func (f *File) strip() {
	if len(f.Tensors) == 0 {
		return
	}
	for {
		var p string
		for _, cand := range stripPrefixes {
			all := true
			for n := range f.Tensors {
				if !strings.HasPrefix(n, cand) {
					all = false
					break
				}
			}
			if all {
				p = cand
				break
			}
		}
		if p == "" {
			return
		}
		out := make(map[string]*Tensor, len(f.Tensors))
		for n, t := range f.Tensors {
			out[strings.TrimPrefix(n, p)] = t
		}
		f.Tensors, f.Prefix = out, f.Prefix+p
		for i, n := range f.Ignored {
			f.Ignored[i] = strings.TrimPrefix(n, p)
		}
	}
}

// StripPrefix removes prefix from every tensor name that has it and drops the tensors that lack it;
// it returns the names of the tensors dropped. It is for files whose model sits under a prefix such as
// "backbone." (cmd/weights convert -strip-prefix).
func (f *File) StripPrefix(prefix string) (dropped []string) {
	out := make(map[string]*Tensor, len(f.Tensors))
	for n, t := range f.Tensors {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			out[rest] = t
		} else {
			dropped = append(dropped, n)
		}
	}
	f.Tensors, f.Prefix = out, f.Prefix+prefix
	slices.Sort(dropped)
	return dropped
}

// head is the first n bytes of b.
func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
