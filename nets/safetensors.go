package nets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that follows the
// header; an optional "__metadata__" entry holds strings), then the raw little-endian data.

// maxHeader bounds the JSON header as the reference implementation does (100 MB).
const maxHeader = 100 << 20

// stTensor is one tensor of a safetensors file: its raw bytes, not yet converted.
type stTensor struct {
	DType string
	Shape []int64
	raw   []byte
}

// dtypeSize is the byte size of every safetensors dtype.
func dtypeSize(dtype string) (int64, bool) {
	switch dtype {
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3":
		return 1, true
	case "I16", "U16", "F16", "BF16":
		return 2, true
	case "I32", "U32", "F32":
		return 4, true
	case "I64", "U64", "F64":
		return 8, true
	}
	return 0, false
}

// readSafetensors reads and parses the safetensors file at path.
func readSafetensors(path string) (map[string]stTensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read safetensors: %w", err)
	}
	ts, err := parseSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("read safetensors %s: %w", path, err)
	}
	return ts, nil
}

// parseSafetensors parses a whole safetensors file held in b. The tensors alias b. Every length, offset
// and shape is checked against the others, so a malformed file is an error, never a panic.
func parseSafetensors(b []byte) (map[string]stTensor, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file of %d bytes is shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader || n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d exceeds the file (%d bytes) or the 100 MB limit", n, len(b))
	}
	header, data := b[8:8+n], b[8+n:]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, errors.New("header is not a JSON object")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	out := make(map[string]stTensor, len(entries))
	for name, raw := range entries {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, fmt.Errorf("header __metadata__: %w", err)
			}
			continue
		}
		var e struct {
			DType       string   `json:"dtype"`
			Shape       []int64  `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		size, ok := dtypeSize(e.DType)
		if !ok {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("tensor %q: no shape", name)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt64/size/d) {
				return nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
			}
			count *= d
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets %v, want [begin, end]", name, e.DataOffsets)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end || end > uint64(len(data)) {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(data))
		}
		if end-begin != uint64(count*size) {
			return nil, fmt.Errorf("tensor %q: %d data bytes for %s%v, want %d", name, end-begin, e.DType, e.Shape, count*size)
		}
		out[name] = stTensor{DType: e.DType, Shape: e.Shape, raw: data[begin:end:end]}
	}
	return out, nil
}

// float32s converts the tensor to float32 (from F32, F16, BF16 or F64).
func (t stTensor) float32s() ([]float32, error) {
	r := t.raw
	switch t.DType {
	case "F32":
		out := make([]float32, len(r)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*i:]))
		}
		return out, nil
	case "F64":
		out := make([]float32, len(r)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(r[8*i:])))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(r)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(r[2*i:])) << 16)
		}
		return out, nil
	case "F16":
		out := make([]float32, len(r)/2)
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(r[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s is not a floating type (want F32, F16, BF16 or F64)", t.DType)
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: frac · 2^-24.
	v := float32(frac) * float32(1.0/(1<<24))
	if sign != 0 {
		v = -v
	}
	return v
}

// sortedNames returns the tensor names in order, for deterministic reports.
func sortedNames(ts map[string]stTensor) []string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
