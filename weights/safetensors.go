package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/finegrain/finegrain/internal/atomicfile"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that follows the
// header; an optional "__metadata__" entry holds strings), then the raw little-endian data.

// maxHeader bounds the JSON header as the reference implementation does (100 MB).
const maxHeader = 100 << 20

// ParseSafetensors parses a whole safetensors file held in b: its tensors, which alias b, and its
// __metadata__ strings. Every length, offset and shape is checked against the others, so a malformed
// file is an error, never a panic.
func ParseSafetensors(b []byte) (map[string]*Tensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("file of %d bytes is shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader || n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the file (%d bytes) or the 100 MB limit", n, len(b))
	}
	header, data := b[8:8+n], b[8+n:]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, nil, errors.New("header is not a JSON object")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	var meta map[string]string
	out := make(map[string]*Tensor, len(entries))
	for name, raw := range entries {
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("header __metadata__: %w", err)
			}
			continue
		}
		var e struct {
			DType       string   `json:"dtype"`
			Shape       []int64  `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		size, ok := dtypeSize(e.DType)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			return nil, nil, fmt.Errorf("tensor %q: no shape", name)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt64/size/d) {
				return nil, nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
			}
			count *= d
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets %v, want [begin, end]", name, e.DataOffsets)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end || end > uint64(len(data)) {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d data bytes (a truncated file?)", name, begin, end, len(data))
		}
		if end-begin != uint64(count*size) {
			return nil, nil, fmt.Errorf("tensor %q: %d data bytes for %s%v, want %d", name, end-begin, e.DType, e.Shape, count*size)
		}
		out[name] = &Tensor{DType: e.DType, Shape: e.Shape, Data: data[begin:end:end]}
	}
	return out, meta, nil
}

// isSafetensors reports whether b starts like a safetensors file: a plausible header length followed
// by a JSON object.
func isSafetensors(b []byte) bool {
	if len(b) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(b[:8])
	rest := bytes.TrimLeft(b[8:], " \t\r\n")
	return n > 0 && n <= maxHeader && len(rest) > 0 && rest[0] == '{'
}

// EncodeSafetensors encodes tensors (in name order) with optional __metadata__ strings. The header is
// padded with spaces to a multiple of 8 bytes, as the reference implementation does.
func EncodeSafetensors(tensors map[string]*Tensor, meta map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		size, ok := dtypeSize(t.DType)
		if !ok {
			return nil, fmt.Errorf("tensor %s: unknown dtype %q", n, t.DType)
		}
		if want := Numel(t.Shape) * size; int64(len(t.Data)) != want {
			return nil, fmt.Errorf("tensor %s: %d data bytes for %s%v, want %d", n, len(t.Data), t.DType, t.Shape, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		header[n] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := make([]byte, 0, 8+int64(len(h))+off)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(h)))
	out = append(out, h...)
	for _, n := range names {
		out = append(out, tensors[n].Data...)
	}
	return out, nil
}

// WriteSafetensors writes tensors to path atomically (a temporary file in the same directory, renamed
// over path once complete), so a reader never sees half a file.
func WriteSafetensors(path string, tensors map[string]*Tensor, meta map[string]string) error {
	b, err := EncodeSafetensors(tensors, meta)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, b)
}
