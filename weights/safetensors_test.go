package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// stEntry is one tensor for makeSafetensors.
type stEntry struct {
	name, dtype string
	shape       []int64
	data        []byte
}

// makeSafetensors writes a safetensors file in memory, in the order given.
func makeSafetensors(entries ...stEntry) []byte {
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, e := range entries {
		header[e.name] = map[string]any{"dtype": e.dtype, "shape": e.shape, "data_offsets": []int{len(data), len(data) + len(e.data)}}
		data = append(data, e.data...)
	}
	h, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// rawFile is a file with a hand-written header and data, for malformed cases.
func rawFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestParseSafetensors(t *testing.T) {
	good := makeSafetensors(
		stEntry{"a.weight", "F32", []int64{2, 2}, f32bytes(1, 2, 3, 4)},
		stEntry{"a.num_batches_tracked", "I64", []int64{}, binary.LittleEndian.AppendUint64(nil, 7)},
		stEntry{"b.bias", "F64", []int64{1}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(-0.5))},
		stEntry{"c.bias", "BF16", []int64{2}, []byte{0x80, 0x3f, 0x00, 0xc0}}, // 1, -2
		stEntry{"d.bias", "F16", []int64{2}, []byte{0x00, 0x3c, 0x01, 0x00}},  // 1, 2^-24
		stEntry{"empty", "F32", []int64{0, 3}, nil},
	)
	ts, meta, err := ParseSafetensors(good)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" {
		t.Errorf("metadata %v", meta)
	}
	want := map[string][]float32{"a.weight": {1, 2, 3, 4}, "b.bias": {-0.5}, "c.bias": {1, -2}, "d.bias": {1, 0x1p-24}, "empty": {}}
	for name, w := range want {
		got, err := ts[name].Float32s()
		if err != nil || !slices.Equal(got, w) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, w)
		}
	}
	if _, err := ts["a.num_batches_tracked"].Float32s(); err == nil || !strings.Contains(err.Error(), "I64") {
		t.Errorf("I64 as float: error %v", err)
	}

	for _, tc := range []struct {
		name string
		file []byte
		msg  string
	}{
		{"empty file", nil, "shorter"},
		{"short", []byte{1, 2, 3}, "shorter"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "exceeds"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds"},
		{"not JSON", rawFile("{nope", nil), "header"},
		{"not an object", rawFile("[1, 2]", nil), "JSON object"},
		{"blank", rawFile("   ", nil), "JSON object"},
		{"bad metadata", rawFile(`{"__metadata__": {"a": 1}}`, nil), "__metadata__"},
		{"entry not object", rawFile(`{"a": 3}`, nil), `"a"`},
		{"unknown dtype", rawFile(`{"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}`, make([]byte, 16)), "F128"},
		{"no shape", rawFile(`{"a": {"dtype": "F32", "data_offsets": [0, 0]}}`, nil), "no shape"},
		{"negative dim", rawFile(`{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}`, make([]byte, 4)), "bad shape"},
		{"overflowing shape", rawFile(`{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}`, nil), "bad shape"},
		{"one offset", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}`, make([]byte, 4)), "data_offsets"},
		{"reversed offsets", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}`, make([]byte, 4)), "outside"},
		{"offsets past data", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}`, make([]byte, 4)), "outside"},
		{"size mismatch", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}`, make([]byte, 8)), "want 8"},
		{"truncated", good[:len(good)-3], "outside"},
	} {
		_, _, err := ParseSafetensors(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.msg)
		}
	}
}

// TestSafetensorsRoundTrip writes tensors of several dtypes (a scalar and an empty one among them) and
// reads them back unchanged; a tensor whose bytes disagree with its shape is refused.
func TestSafetensorsRoundTrip(t *testing.T) {
	in := map[string]*Tensor{
		"conv1.weight": {DType: "F32", Shape: []int64{2, 1, 1, 2}, Data: f32bytes(1, -2, 3.5, 0)},
		"half":         {DType: "F16", Shape: []int64{2}, Data: []byte{0, 0x3c, 0, 0xc0}},
		"count":        {DType: "I64", Shape: []int64{}, Data: binary.LittleEndian.AppendUint64(nil, 7)},
		"empty":        {DType: "F32", Shape: []int64{0}, Data: nil},
	}
	path := filepath.Join(t.TempDir(), "out.safetensors")
	if err := WriteSafetensors(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatSafetensors || f.Metadata["format"] != "pt" || len(f.Tensors) != len(in) {
		t.Fatalf("read back %s with %d tensors, metadata %v", f.Format, len(f.Tensors), f.Metadata)
	}
	for n, w := range in {
		g := f.Tensors[n]
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: %+v, want %+v", n, g, w)
		}
	}
	b, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(b); n%8 != 0 {
		t.Errorf("header of %d bytes is not padded to a multiple of 8", n)
	}
	bad := map[string]*Tensor{"x": {DType: "F32", Shape: []int64{3}, Data: f32bytes(1)}}
	if err := WriteSafetensors(path, bad, nil); err == nil || !strings.Contains(err.Error(), "want 12") {
		t.Errorf("short data: error %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a refused write, want the one file", len(entries))
	}
}

// dtypesScript writes every F16 and BF16 bit pattern and random numbers as F32 and F64, each with
// torch's conversion to float32 beside it (argv[1] is the file).
const dtypesScript = `
import json, struct, sys, torch
torch.manual_seed(0)
bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
f16, bf16 = bits.view(torch.float16), bits.view(torch.bfloat16)
f64 = torch.randn(1000, dtype=torch.float64) * 1e3
ts = {'f16': f16, 'f16_as_f32': f16.float(), 'bf16': bf16, 'bf16_as_f32': bf16.float(), 'f64': f64, 'f64_as_f32': f64.float()}
names = {torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float32: 'F32', torch.float64: 'F64'}
header, blobs, off = {}, [], 0
for k, t in ts.items():
    b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
    header[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
`

// TestFloatConversionsMatchTorch converts all 65,536 F16 and BF16 values and random F64 values and
// compares them bit for bit with torch's .float() (NaNs only as NaNs).
func TestFloatConversionsMatchTorch(t *testing.T) {
	py := pyref.Torch(t)
	path := filepath.Join(t.TempDir(), "dtypes.safetensors")
	pyref.Run(t, py, dtypesScript, path)
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f16", "bf16", "f64"} {
		got, err := f.Tensors[name].Float32s()
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.Tensors[name+"_as_f32"].Float32s()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("%s[%d]: %g (%#x), torch %g (%#x)", name, i, g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
	}
}

// FuzzParseSafetensors: no input makes the parser or the conversions panic, and every tensor it accepts
// converts to as many values as its shape holds. Seeds: testdata/fuzz/FuzzParseSafetensors and a few
// files built here.
func FuzzParseSafetensors(f *testing.F) {
	f.Add(makeSafetensors(stEntry{"conv1.weight", "F32", []int64{1, 1, 1, 2}, f32bytes(1, -1)}))
	f.Add(makeSafetensors(stEntry{"x", "F16", []int64{1}, []byte{0, 0x3c}}, stEntry{"y", "BF16", []int64{1}, []byte{0x80, 0x3f}}))
	f.Add(rawFile(`{"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _, err := ParseSafetensors(b)
		if err != nil {
			return
		}
		for name, tensor := range ts {
			vals, err := tensor.Float32s()
			if err != nil {
				continue
			}
			if int64(len(vals)) != Numel(tensor.Shape) {
				t.Fatalf("%s: %d values for shape %v", name, len(vals), tensor.Shape)
			}
		}
	})
}
