package matfile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finegrain/finegrain/pipeline/safefile"
)

func TestMalformed(t *testing.T) {
	le := &mwriter{order: binary.LittleEndian}
	good := le.file(carsLike()...)
	hdr := good[:headerLen]
	raw := func(body []byte) []byte { return append(append([]byte(nil), hdr...), le.matrix("x", body)...) }
	dbl := func(dims []int, n int) []byte {
		return append(le.header("x", ClassDouble, 0, dims), le.element(miDOUBLE, make([]byte, 8*n))...)
	}
	nest := wnum{class: ClassDouble, dims: []int{1, 1}, re: []float64{1}}
	var deep any = nest
	for range maxDepth + 2 {
		deep = wcell{dims: []int{1, 1}, cells: []any{deep}}
	}
	zlibOf := func(b []byte) []byte {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		return z.Bytes()
	}
	inner := le.matrix("x", nest)
	compressed := func(z []byte) []byte {
		return append(append(append([]byte(nil), hdr...), le.tag(miCOMPRESSED, len(z))...), z...)
	}
	bigEndianHeader := append([]byte(nil), hdr...)
	copy(bigEndianHeader[124:], []byte{1, 0, 'M', 'I'})
	v73 := append([]byte(nil), hdr...)
	copy(v73[124:], []byte{0, 2, 'I', 'M'})
	v9 := append([]byte(nil), hdr...)
	copy(v9[124:], []byte{0, 9, 'I', 'M'})

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "file of 0 bytes is shorter than the 128-byte MAT v5 header"},
		{"v4 or text", bytes.Repeat([]byte("x"), 200), "not a MAT v5 file"},
		{"v7.3", v73, "MAT v7.3 files are HDF5"},
		{"bad version", v9, "unsupported MAT-file version 0x0900"},
		{"big-endian header, little-endian data", append(bigEndianHeader, good[headerLen:]...), "claims"},
		{"truncated tag", append(append([]byte(nil), hdr...), 14, 0, 0), "variable #1 at offset 128: truncated data element tag: 3 bytes left"},
		{"overlong element", append(append([]byte(nil), hdr...), le.tag(miMATRIX, 100)...), "miMATRIX element claims 100 bytes, only 0 left"},
		{"small element too big", raw(append(le.header("x", ClassDouble, 0, []int{1, 1}), 9, 0, 8, 0, 0, 0, 0, 0)), "small data element of miDOUBLE claims 8 bytes"},
		{"flags type", raw(append(le.element(miDOUBLE, make([]byte, 8)), dbl([]int{1, 1}, 1)...)), "array flags is miDOUBLE, want miUINT32"},
		{"flags length", raw(append(le.element(miUINT32, make([]byte, 4)), le.header("x", ClassDouble, 0, []int{1, 1})[16:]...)), "x at offset 136: array flags have 4 bytes, want 8"},
		{"negative dim", raw(dbl([]int{-1, 2}, 0)), "x at offset 152: dimension 1 is negative (-1)"},
		{"huge dims", raw(dbl([]int{1 << 30, 1 << 30, 1 << 30}, 0)), "describe more elements"},
		{"count mismatch", raw(dbl([]int{2, 3}, 5)), "x at offset 176: real part has 40 bytes of miDOUBLE, want 6 elements"},
		{"numeric as char type", raw(append(le.header("x", ClassDouble, 0, []int{1, 1}), le.element(miUTF8, []byte("a"))...)), "real part has data type miUTF8"},
		{"missing imaginary part", raw(append(le.header("x", ClassDouble, 0x0800, []int{1, 1}), le.element(miDOUBLE, make([]byte, 8))...)), "x at offset 192: truncated data element tag: 0 bytes left"},
		{"char count", raw(append(le.header("x", ClassChar, 0, []int{1, 3}), le.element(miUTF8, []byte("ab"))...)), "char data holds 2 characters, dimensions [1 3] want 3"},
		{"odd utf16", raw(append(le.header("x", ClassChar, 0, []int{1, 1}), le.element(miUINT16, []byte("abc"))...)), "odd number of bytes"},
		{"cells claimed", raw(le.header("x", ClassCell, 0, []int{1000, 1000})), "1000000 cells claimed, but only 0 bytes are left"},
		{"cell not a matrix", raw(append(le.header("x", ClassCell, 0, []int{1, 1}), le.element(miDOUBLE, make([]byte, 8))...)), "x[0] at offset 176: cell is miDOUBLE, want miMATRIX"},
		{"field names", raw(append(append(le.header("x", ClassStruct, 0, []int{1, 1}), le.element(miINT32, []byte{5, 0, 0, 0})...), le.element(miINT8, []byte("abcdefg"))...)), "field names take 7 bytes, not a multiple of the name length 5"},
		{"struct elements claimed", raw(append(append(le.header("x", ClassStruct, 0, []int{40000, 40000}), le.element(miINT32, []byte{4, 0, 0, 0})...), le.element(miINT8, []byte("abc\x00"))...)), "1600000000 struct elements claimed"},
		{"deep nesting", append(append([]byte(nil), hdr...), le.matrix("x", deep)...), "nested deeper than 100 levels"},
		{"unknown class", raw(append(le.header("x", 42, 0, []int{1, 1}), le.element(miDOUBLE, make([]byte, 8))...)), "unknown array class 42"},
		{"not zlib", compressed([]byte("not zlib at all")), "variable #1 at offset 128: compressed element: zlib: invalid header"},
		{"truncated zlib", compressed(zlibOf(inner)[:20]), "compressed element: inflating"},
		{"zlib inner truncated", compressed(zlibOf(inner[:len(inner)-8])), "unexpected EOF"},
		{"zlib short tag", compressed(zlibOf(inner[:5])), "reading the inner tag"},
		{"zlib bad inner", compressed(zlibOf(append(le.tag(miMATRIX, 16), le.element(miDOUBLE, make([]byte, 8))...))), "of the data inflated from the compressed element at offset 128: array flags is miDOUBLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestTruncated cuts valid files at every length: each prefix either fails or, where the cut falls
// between variables, reads fewer of them; none panics.
func TestTruncated(t *testing.T) {
	for _, w := range []*mwriter{{order: binary.LittleEndian}, {order: binary.BigEndian, compress: true}} {
		b := w.file(carsLike()...)
		for n := range len(b) {
			vars, err := Read(bytes.NewReader(b[:n]))
			if err == nil && len(vars) >= 2 {
				t.Fatalf("prefix of %d of %d bytes read all %d variables", n, len(b), len(vars))
			}
		}
		if vars, err := Read(bytes.NewReader(b)); err != nil || len(vars) != 2 {
			t.Fatalf("whole file: %d variables, %v", len(vars), err)
		}
	}
}

// walk calls every accessor on every value, as a consumer of a hostile file might.
func walk(v *Value, depth int) {
	if depth > 2*maxDepth {
		panic("walk deeper than the reader allows")
	}
	_ = v.String()
	v.Float64s()
	v.Complex128s()
	v.Ints()
	v.Float64()
	v.Int()
	v.Text()
	v.Strings()
	for i := range min(v.Len(), 50) {
		if c, err := v.Cell(i); err == nil {
			walk(c, depth+1)
		}
		for _, f := range v.Fields() {
			if e, err := v.FieldAt(i, f); err == nil {
				walk(e, depth+1)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, w := range []*mwriter{{order: binary.LittleEndian}, {order: binary.BigEndian, compress: true}} {
		f.Add(w.file(carsLike()...))
		f.Add(w.file(wvar{"c", wcell{dims: []int{2, 1}, cells: []any{
			wchar{dims: []int{1, 2}, s: "ab", typ: miUTF8},
			wnum{class: ClassInt16, dims: []int{1, 2}, re: []float64{-1, 2}, im: []float64{3, 4}},
		}}}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vars, err := Read(bytes.NewReader(b))
		if err != nil {
			if vars != nil {
				t.Fatal("error with variables")
			}
			return
		}
		for _, v := range vars {
			walk(v, 0)
		}
	})
}

// TestReadFileSpecialFiles: ReadFile reads only regular files. A named pipe used to block the open
// forever and /dev/zero to be read until memory ran out; both are now refused at once, naming the
// path and the kind of file.
func TestReadFileSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "train_list.mat")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, kind string }{{fifo, "named pipe"}, {"/dev/zero", "character device"}, {dir, "directory"}} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(tt.path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.kind) {
				t.Errorf("ReadFile(%s): %v, want an error naming it as a %s", tt.path, err, tt.kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) still blocked after 10 s", tt.path)
		}
	}
}
