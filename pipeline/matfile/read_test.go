package matfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// scipyWrite writes MAT-files with scipy.io.savemat: everything the dataset files use and the corners
// of the format (integer extremes, unicode beyond the BMP, column-major struct arrays, nesting).
const scipyWrite = `
import sys, numpy as np, scipy.io as sio
out = sys.argv[1]
def cell(items, shape):
    a = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        a[i] = x
    return a.reshape(shape, order='F')
ann_dt = [('bbox_x1', 'O'), ('bbox_y1', 'O'), ('bbox_x2', 'O'), ('bbox_y2', 'O'), ('class', 'O'), ('fname', 'O')]
ann = np.zeros((1, 4), dtype=ann_dt)
for i in range(4):
    ann[0, i] = (np.array([[10 + i]], np.uint8), np.array([[20 + i]], np.uint8), np.array([[300 + i]], np.uint16),
                 np.array([[200 + i]], np.uint16), np.array([[i + 1]], np.uint8), '%05d.jpg' % (i + 1))
grid = np.zeros((2, 3), dtype=[('v', 'O'), ('name', 'O')])
for r in range(2):
    for c in range(3):
        grid[r, c] = (np.array([[r * 10.0 + c]]), 'r%dc%d' % (r, c))
v = {
    'dbl': np.array([[1.5, -2, 3], [4, 5e300, -6e-300]]),
    'sgl': np.array([[0.1, -2.5]], np.float32),
    'i8': np.array([-128, 0, 127], np.int8), 'u8': np.array([0, 255], np.uint8),
    'i16': np.array([-32768, 32767], np.int16), 'u16': np.array([0, 65535], np.uint16),
    'i32': np.array([-2**31, 2**31 - 1], np.int32), 'u32': np.array([0, 2**32 - 1], np.uint32),
    'i64': np.array([-2**63, 2**63 - 1, 5], np.int64), 'u64': np.array([0, 2**53], np.uint64),
    'lgc': np.array([[True, False, True]]),
    'cplx': np.array([1 + 2j, 3 - 4j]),
    'scalar': 7.0,
    'empty': np.zeros((0, 3)),
    'text': 'hello world',
    'uni': 'h\u00e9llo \u2713 \U0001d11e',
    'charmat': np.array(['abc', 'def']),
    'emptystr': '',
    'cellstr': cell(['a', 'bb', 'ccc'], (3,)),
    'file_list': cell(['n02085620-Chihuahua/n02085620_5927.jpg', 'n02085782-Japanese_spaniel/x.jpg'], (2, 1)),
    'labels': np.array([[1.0], [2.0]]),
    'nested': cell([np.array([1, 2]), 'txt', cell([cell(['in'], (1,)), np.zeros((2, 0))], (2,))], (3,)),
    'emptycell': np.empty((0, 0), dtype=object),
    'st': {'a': 1, 'b': 'two', 'c': np.array([[1, 2], [3, 4]]), 'd': {'deep': cell(['x'], (1,))}},
    'annotations': ann,
    'grid': grid,
    'class_names': cell(['AM General Hummer SUV 2000', 'Acura RL Sedan 2012'], (1, 2)),
    'big': np.arange(3000.0).reshape(30, 100),
}
for compress in (False, True):
    for oned in ('row', 'column'):
        sio.savemat('%s/scipy_%s_%s.mat' % (out, 'z' if compress else 'raw', oned), v,
                    do_compression=compress, oned_as=oned)
`

// scipyDump prints, for every file named on the command line, the variables scipy.io.loadmat reads,
// in the canonical JSON form that canon builds on the Go side.
const scipyDump = `
import sys, json, numpy as np, scipy.io as sio
def num(x):
    return int(x) if isinstance(x, (int, np.integer, bool, np.bool_)) else float(x)
def canon(a, raw):
    # a is read with mat_dtype=True (MATLAB classes), raw without it (it keeps imaginary parts).
    a, raw = np.asarray(a), np.asarray(raw)
    dims = list(a.shape)
    if a.dtype.names:
        elems = [{n: canon(e[n], r[n]) for n in a.dtype.names}
                 for e, r in zip(a.flatten(order='F'), raw.flatten(order='F'))]
        return {'class': 'struct', 'dims': dims, 'fields': list(a.dtype.names), 'elems': elems}
    if a.dtype == object:
        return {'class': 'cell', 'dims': dims,
                'cells': [canon(c, r) for c, r in zip(a.flatten(order='F'), raw.flatten(order='F'))]}
    if a.dtype.kind == 'U':
        rows = [''.join(a[i, :].flatten(order='F')) for i in range(dims[0])] if a.size or dims[0] else []
        return {'class': 'char', 'dims': dims, 'rows': rows}
    out = {'dims': dims}
    out['class'] = 'logical' if a.dtype == bool else {np.float64: 'double', np.float32: 'single'}.get(a.dtype.type, str(a.dtype))
    out['data'] = [num(x) for x in a.flatten(order='F')]
    if raw.dtype.kind == 'c':
        out['imag'] = [float(x.imag) for x in raw.flatten(order='F')]
    return out
res = {}
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        big = f.read(128)[126:] == b'MI'
    kw = dict(chars_as_strings=False, struct_as_record=True, uint16_codec='utf_16_be' if big else 'utf_16_le')
    d, raw = sio.loadmat(path, mat_dtype=True, **kw), sio.loadmat(path, **kw)
    res[path] = {k: canon(v, raw[k]) for k, v in d.items() if not k.startswith('__')}
json.dump(res, sys.stdout)
`

// canon turns a value into the JSON tree scipyDump prints.
func canon(t *testing.T, v *Value) any {
	t.Helper()
	dims := make([]any, len(v.Dims))
	for i, d := range v.Dims {
		dims[i] = json.Number(strconv.Itoa(d))
	}
	out := map[string]any{"dims": dims, "class": v.Class.String()}
	switch {
	case v.Class == ClassStruct:
		names := make([]any, len(v.Fields()))
		for i, f := range v.Fields() {
			names[i] = f
		}
		elems := []any{}
		for i := range v.Len() {
			e := map[string]any{}
			for _, f := range v.Fields() {
				fv, err := v.FieldAt(i, f)
				if err != nil {
					t.Fatal(err)
				}
				e[f] = canon(t, fv)
			}
			elems = append(elems, e)
		}
		out["fields"], out["elems"] = names, elems
	case v.Class == ClassCell:
		cells := []any{}
		for i := range v.Len() {
			c, err := v.Cell(i)
			if err != nil {
				t.Fatal(err)
			}
			cells = append(cells, canon(t, c))
		}
		out["cells"] = cells
	case v.Class == ClassChar:
		rows, err := v.Strings()
		if err != nil {
			t.Fatal(err)
		}
		rs := []any{}
		for _, r := range rows {
			rs = append(rs, r)
		}
		out["rows"] = rs
	case v.Class.Numeric():
		if v.Logical {
			out["class"] = "logical"
		}
		cs, err := v.Complex128s()
		if err != nil {
			t.Fatal(err)
		}
		data, ims := []any{}, []any{}
		ints, ierr := v.Int64s()
		for i, c := range cs {
			if v.Class >= ClassInt8 && ierr == nil {
				data = append(data, json.Number(strconv.FormatInt(ints[i], 10)))
			} else {
				data = append(data, json.Number(strconv.FormatFloat(real(c), 'g', -1, 64)))
			}
			ims = append(ims, json.Number(strconv.FormatFloat(imag(c), 'g', -1, 64)))
		}
		out["data"] = data
		if v.Complex {
			out["imag"] = ims
		}
	default:
		t.Fatalf("%s: class %s has no canonical form", v.Path(), v.Class)
	}
	return out
}

// sameJSON compares two canonical trees; numbers compare as integers when both are integers, else as
// floats.
func sameJSON(a, b any, path string) error {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: object vs %T", path, b)
		}
		keys := func(m map[string]any) []string {
			var ks []string
			for k := range m {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			return ks
		}
		if ka, kb := keys(a), keys(bm); strings.Join(ka, ",") != strings.Join(kb, ",") {
			return fmt.Errorf("%s: keys %v vs %v", path, ka, kb)
		}
		for k, av := range a {
			if err := sameJSON(av, bm[k], path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return fmt.Errorf("%s: list of %d vs %v", path, len(a), b)
		}
		for i := range a {
			if err := sameJSON(a[i], bs[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return fmt.Errorf("%s: number %v vs %v", path, a, b)
		}
		ai, errA := strconv.ParseInt(string(a), 10, 64)
		bi, errB := strconv.ParseInt(string(bn), 10, 64)
		if errA == nil && errB == nil {
			if ai != bi {
				return fmt.Errorf("%s: %d vs %d", path, ai, bi)
			}
			return nil
		}
		af, _ := strconv.ParseFloat(string(a), 64)
		bf, _ := strconv.ParseFloat(string(bn), 64)
		if af != bf {
			return fmt.Errorf("%s: %v vs %v", path, a, bn)
		}
	default:
		if a != b {
			return fmt.Errorf("%s: %#v vs %#v", path, a, b)
		}
	}
	return nil
}

// checkAgainstScipy reads every file with both readers and compares all variables.
func checkAgainstScipy(t *testing.T, py string, files []string) {
	t.Helper()
	var want map[string]map[string]any
	dec := json.NewDecoder(bytes.NewReader(pyref.Run(t, py, scipyDump, files...)))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		vars, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(vars) != len(want[f]) {
			t.Errorf("%s: read %d variables, scipy %d", filepath.Base(f), len(vars), len(want[f]))
		}
		for name, w := range want[f] {
			v, ok := vars[name]
			if !ok {
				t.Errorf("%s: variable %q missing", filepath.Base(f), name)
				continue
			}
			// Round-trip the Go tree through JSON so both sides hold the same Go types.
			var got any
			b, _ := json.Marshal(canon(t, v))
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if err := sameJSON(got, w, name); err != nil {
				t.Errorf("%s: ours vs scipy: %v", filepath.Base(f), err)
			}
		}
	}
}

// matlabStyle returns files written the way MATLAB writes them (doubles stored as small integers,
// UTF-16 chars, small data elements), in both byte orders (scipy cannot write big-endian), with and
// without compression, by name.
func matlabStyle() map[string][]byte {
	out := map[string][]byte{}
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, compress := range []bool{false, true} {
			w := &mwriter{order: order, compress: compress}
			vars := append(carsLike(),
				wvar{"u16text", wchar{dims: []int{1, 3}, s: "a\u00e9\u2713"}},
				wvar{"ascii", wchar{dims: []int{1, 2}, s: "ok", typ: miUINT8}},
				wvar{"mat", wchar{dims: []int{2, 2}, s: "adbe"}},
				wvar{"logic", wnum{class: ClassUint8, logical: true, dims: []int{1, 3}, re: []float64{1, 0, 1}}},
				wvar{"neg", wnum{class: ClassDouble, typ: miINT16, dims: []int{2, 1}, re: []float64{-300, 7}}},
				wvar{"cplx", wnum{class: ClassSingle, dims: []int{1, 2}, re: []float64{1, 2}, im: []float64{-1, 0.5}}},
			)
			out[fmt.Sprintf("go_%v_%v.mat", order, compress)] = w.file(vars...)
		}
	}
	return out
}

// TestReadMATLABStyle checks MATLAB-style files against the values written (TestAgainstScipy
// checks them against scipy's reader too).
func TestReadMATLABStyle(t *testing.T) {
	for name, b := range matlabStyle() {
		got, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		names, err := got["class_names"].Strings()
		if err != nil || strings.Join(names, "|") != "AM General H1 |Ram C/V 2012\u00e9" {
			t.Errorf("%s: class_names = %q, %v", name, names, err)
		}
		ann := got["annotations"]
		for i := range 3 {
			for f, want := range map[string]int{"bbox_x1": 10*(i+1) + 0, "bbox_y1": 10*(i+1) + 1, "bbox_x2": 10*(i+1) + 300, "bbox_y2": 10*(i+1) + 200, "class": i + 1} {
				v, err := ann.FieldAt(i, f)
				if err != nil {
					t.Fatal(err)
				}
				if n, err := v.Int(); n != want || err != nil || v.Class != ClassDouble {
					t.Errorf("%s: annotations[%d].%s = %d (%s), %v; want %d double", name, i, f, n, v.Class, err, want)
				}
			}
		}
		if rows, _ := got["mat"].Strings(); strings.Join(rows, "|") != "ab|de" {
			t.Errorf("%s: char matrix rows = %q, want [ab de]", name, rows)
		}
		if s, _ := got["u16text"].Text(); s != "a\u00e9\u2713" {
			t.Errorf("%s: u16text = %q", name, s)
		}
		if is, _ := got["neg"].Ints(); len(is) != 2 || is[0] != -300 {
			t.Errorf("%s: neg = %v", name, is)
		}
		if cs, _ := got["cplx"].Complex128s(); len(cs) != 2 || cs[1] != complex(2, 0.5) {
			t.Errorf("%s: cplx = %v", name, cs)
		}
	}
}

// TestAgainstScipy reads files written by scipy.io.savemat (compressed or not, 1-D arrays as rows or
// columns) and the MATLAB-style files, and compares every variable with what scipy.io.loadmat reads.
func TestAgainstScipy(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the scipy oracle in short mode (Python start-up takes seconds)")
	}
	py := pyref.Torch(t)
	dir := t.TempDir()
	pyref.Run(t, py, scipyWrite, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.mat"))
	if len(files) != 4 {
		t.Fatalf("scipy wrote %d files, want 4", len(files))
	}
	for name, b := range matlabStyle() {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	checkAgainstScipy(t, py, files)

	// Spot checks in the API the dataset readers use, independent of the canonical form.
	vars, err := ReadFile(filepath.Join(dir, "scipy_z_column.mat"))
	if err != nil {
		t.Fatal(err)
	}
	fl, err := vars["file_list"].Strings()
	if err != nil || len(fl) != 2 || fl[1] != "n02085782-Japanese_spaniel/x.jpg" {
		t.Errorf("file_list = %q, %v", fl, err)
	}
	ann := vars["annotations"]
	if ann.Len() != 4 {
		t.Fatalf("annotations has %d elements", ann.Len())
	}
	x2, err := ann.FieldAt(2, "bbox_x2")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := x2.Int(); n != 302 || err != nil {
		t.Errorf("annotations[2].bbox_x2 = %d, %v; want 302", n, err)
	}
	fname, _ := ann.FieldAt(3, "fname")
	if s, err := fname.Text(); s != "00004.jpg" || err != nil {
		t.Errorf("annotations[3].fname = %q, %v", s, err)
	}
	if s, _ := vars["uni"].Text(); s != "h\u00e9llo \u2713 \U0001d11e" {
		t.Errorf("uni = %q", s)
	}
}

// TestReadQuirks covers what scipy reads differently from MATLAB: empty cells (MATLAB writes an
// empty miMATRIX, meaning a 0x0 double; scipy makes it 1x0) and one-byte chars (Latin-1 here).
func TestReadQuirks(t *testing.T) {
	w := &mwriter{order: binary.BigEndian}
	vars, err := Read(bytes.NewReader(w.file(
		wvar{"latin", wchar{dims: []int{1, 2}, s: "\u00e9x", typ: miUINT8}},
		wvar{"emptycell", wcell{dims: []int{1, 2}, cells: []any{[]byte{}, wchar{dims: []int{1, 1}, s: "z"}}}},
	)))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := vars["latin"].Text(); s != "\u00e9x" || err != nil {
		t.Errorf("latin = %q, %v", s, err)
	}
	ss, err := vars["emptycell"].Strings()
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0] != "" || ss[1] != "z" {
		t.Errorf("emptycell strings = %q", ss)
	}
	c0, _ := vars["emptycell"].Cell(0)
	if c0.Class != ClassDouble || len(c0.Dims) != 2 || c0.Len() != 0 {
		t.Errorf("empty cell = %v", c0)
	}
}

func TestAccessorErrors(t *testing.T) {
	w := &mwriter{order: binary.LittleEndian}
	vars, err := Read(bytes.NewReader(w.file(
		wvar{"frac", wnum{class: ClassDouble, dims: []int{1, 2}, re: []float64{1, 2.5}}},
		wvar{"two", wnum{class: ClassDouble, dims: []int{1, 2}, re: []float64{1, 2}}},
		wvar{"txt", wchar{dims: []int{2, 1}, s: "ab"}},
		wvar{"c", wcell{dims: []int{1, 1}, cells: []any{wnum{class: ClassDouble, dims: []int{1, 1}, re: []float64{3}}}}},
		wvar{"s", wstruct{dims: []int{1, 2}, fields: []string{"f"}, elems: [][]any{
			{wchar{dims: []int{1, 1}, s: "x"}}, {wchar{dims: []int{1, 1}, s: "y"}}}}},
		wvar{"huge", wnum{class: ClassDouble, dims: []int{1, 1}, re: []float64{1e300}}},
	)))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
	_, err = vars["frac"].Ints()
	check("Ints of 2.5", err, "frac: element 1 is 2.5, not an integer")
	_, err = vars["huge"].Int64s()
	check("Int64s of 1e300", err, "not an integer")
	_, err = vars["two"].Int()
	check("Int of two elements", err, "has 2 elements, want a scalar")
	_, err = vars["txt"].Text()
	check("Text of a char matrix", err, "char matrix with 2 rows")
	_, err = vars["txt"].Float64s()
	check("Float64s of char", err, "txt: is char, not numeric")
	_, err = vars["c"].Strings()
	check("Strings of a numeric cell", err, "c[0]: is double, not char")
	_, err = vars["c"].Cell(1)
	check("Cell out of range", err, "cell 1 out of range [0, 1)")
	_, err = vars["s"].Field("f")
	check("Field of a struct array", err, "struct array of 2 elements")
	_, err = vars["s"].FieldAt(0, "g")
	check("missing field", err, `has no field "g" (fields: f)`)
	_, err = vars["s"].FieldAt(2, "f")
	check("element out of range", err, "element 2 out of range")
	_, err = vars["two"].Cell(0)
	check("Cell of numeric", err, "is double, not cell")
	f, err := vars["s"].FieldAt(1, "f")
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != "s[1].f" {
		t.Errorf("path = %q, want s[1].f", f.Path())
	}
	if got := vars["s"].String(); got != "s: 1x2 struct" {
		t.Errorf("String() = %q", got)
	}
}
