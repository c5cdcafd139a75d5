package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Tensor is one tensor of a weights file: its dtype (safetensors' names: F32, F16, BF16, F64, I64, I32,
// I16, I8, U8, BOOL, ...), its shape and its data, little-endian, row-major and contiguous.
type Tensor struct {
	DType string
	Shape []int64
	Data  []byte
}

// Numel is the number of elements of the shape (1 for a scalar).
func Numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
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

// IsFloat reports whether the tensor holds floating-point values that Float32s converts.
func (t *Tensor) IsFloat() bool {
	switch t.DType {
	case "F32", "F16", "BF16", "F64":
		return true
	}
	return false
}

// Float32s converts the tensor to float32: F32 as is, F16 and BF16 exactly, F64 rounded to nearest.
func (t *Tensor) Float32s() ([]float32, error) {
	r := t.Data
	size, ok := dtypeSize(t.DType)
	if !ok || !t.IsFloat() {
		return nil, fmt.Errorf("dtype %s is not a floating type (want F32, F16, BF16 or F64)", t.DType)
	}
	if int64(len(r)) != Numel(t.Shape)*size {
		return nil, fmt.Errorf("%d data bytes for %s%v, want %d", len(r), t.DType, t.Shape, Numel(t.Shape)*size)
	}
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
	default: // F16
		out := make([]float32, len(r)/2)
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(r[2*i:]))
		}
		return out, nil
	}
}

// FromFloat32s is an F32 tensor of the given shape holding v (row-major).
func FromFloat32s(v []float32, shape ...int64) (*Tensor, error) {
	if int64(len(v)) != Numel(shape) {
		return nil, fmt.Errorf("%d values for shape %v (%d elements)", len(v), shape, Numel(shape))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &Tensor{DType: "F32", Shape: slices.Clone(shape), Data: b}, nil
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
