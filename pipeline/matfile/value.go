package matfile

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
)

// Class is a MATLAB array class (mxClassID).
type Class uint8

// The MATLAB array classes of the MAT v5 format.
const (
	ClassCell     Class = 1
	ClassStruct   Class = 2
	ClassObject   Class = 3
	ClassChar     Class = 4
	ClassSparse   Class = 5
	ClassDouble   Class = 6
	ClassSingle   Class = 7
	ClassInt8     Class = 8
	ClassUint8    Class = 9
	ClassInt16    Class = 10
	ClassUint16   Class = 11
	ClassInt32    Class = 12
	ClassUint32   Class = 13
	ClassInt64    Class = 14
	ClassUint64   Class = 15
	ClassFunction Class = 16
	ClassOpaque   Class = 17
)

var classNames = [...]string{
	ClassCell: "cell", ClassStruct: "struct", ClassObject: "object", ClassChar: "char",
	ClassSparse: "sparse", ClassDouble: "double", ClassSingle: "single", ClassInt8: "int8",
	ClassUint8: "uint8", ClassInt16: "int16", ClassUint16: "uint16", ClassInt32: "int32",
	ClassUint32: "uint32", ClassInt64: "int64", ClassUint64: "uint64", ClassFunction: "function_handle",
	ClassOpaque: "opaque",
}

// String returns MATLAB's name of the class ("double", "cell", ...).
func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Numeric reports whether arrays of the class hold numbers (double, single and the integer classes).
func (c Class) Numeric() bool { return c >= ClassDouble && c <= ClassUint64 }

// Value is one MATLAB array: a variable of the file, a cell of a cell array or a field of a struct.
// Arrays are stored in MATLAB's column-major order: element i of an array with Dims [r, c] is at row
// i%r, column i/r.
type Value struct {
	Class   Class
	Dims    []int
	Logical bool // a logical array (class uint8)
	Complex bool // a numeric array with an imaginary part

	path      string    // where the value sits in the file, for error messages: "annotations[3].fname"
	real      []float64 // numeric data
	imag      []float64 // imaginary part of complex numeric data
	ints      []int64   // the exact integers when the data was stored with an integer type
	chars     []rune    // char data; UTF-16 surrogates kept as stored
	cells     []*Value  // cell elements
	fields    []string  // struct and object field names
	elems     []*Value  // struct elements, element-major: elems[i*len(fields)+f]
	className string    // class name of an object
}

// Path names the value inside its file, for messages: the variable name followed by element
// indexes (0-based) and field names, for example "annotations[3].fname" or "file_list[7]".
func (v *Value) Path() string { return v.path }

// Len returns the number of elements, the product of Dims.
func (v *Value) Len() int {
	n := 1
	for _, d := range v.Dims {
		n *= d
	}
	return n
}

// String describes the value briefly, as MATLAB's whos does: "annotations: 1x8144 struct".
func (v *Value) String() string {
	dims := make([]string, len(v.Dims))
	for i, d := range v.Dims {
		dims[i] = fmt.Sprint(d)
	}
	class := v.Class.String()
	if v.Logical {
		class = "logical"
	}
	if v.Complex {
		class += " (complex)"
	}
	return fmt.Sprintf("%s: %s %s", v.path, strings.Join(dims, "x"), class)
}

func (v *Value) errorf(format string, args ...any) error {
	return fmt.Errorf("matfile: %s: %s", v.path, fmt.Sprintf(format, args...))
}

func (v *Value) kind() string {
	if v.Logical {
		return "logical"
	}
	return v.Class.String()
}

// Float64s returns the elements of a real numeric or logical array in column-major order.
func (v *Value) Float64s() ([]float64, error) {
	if !v.Class.Numeric() {
		return nil, v.errorf("is %s, not numeric", v.kind())
	}
	if v.Complex {
		return nil, v.errorf("is complex; use Complex128s")
	}
	return append([]float64(nil), v.real...), nil
}

// Complex128s returns the elements of a numeric array (real or complex) in column-major order.
func (v *Value) Complex128s() ([]complex128, error) {
	if !v.Class.Numeric() {
		return nil, v.errorf("is %s, not numeric", v.kind())
	}
	out := make([]complex128, len(v.real))
	for i, re := range v.real {
		var im float64
		if v.imag != nil {
			im = v.imag[i]
		}
		out[i] = complex(re, im)
	}
	return out, nil
}

// Int64s returns the elements of a real numeric or logical array as integers. It fails when an
// element is not a whole number or does not fit an int64.
func (v *Value) Int64s() ([]int64, error) {
	if v.ints != nil && !v.Complex {
		return append([]int64(nil), v.ints...), nil
	}
	fs, err := v.Float64s()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(fs))
	for i, f := range fs {
		// -2^63 is exact in float64; 2^63 is the first value that does not fit.
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return nil, v.errorf("element %d is %v, not an integer", i, f)
		}
		out[i] = int64(f)
	}
	return out, nil
}

// Ints is Int64s for callers that want int.
func (v *Value) Ints() ([]int, error) {
	is, err := v.Int64s()
	if err != nil {
		return nil, err
	}
	out := make([]int, len(is))
	for i, x := range is {
		if int64(int(x)) != x {
			return nil, v.errorf("element %d is %d, too large for int", i, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// Float64 returns the single element of a real numeric scalar.
func (v *Value) Float64() (float64, error) {
	fs, err := v.Float64s()
	if err != nil {
		return 0, err
	}
	if len(fs) != 1 {
		return 0, v.errorf("has %d elements, want a scalar", len(fs))
	}
	return fs[0], nil
}

// Int returns the single element of a numeric scalar that holds a whole number.
func (v *Value) Int() (int, error) {
	is, err := v.Ints()
	if err != nil {
		return 0, err
	}
	if len(is) != 1 {
		return 0, v.errorf("has %d elements, want a scalar", len(is))
	}
	return is[0], nil
}

// Text returns a char array with at most one row as a string (a 0x0 char array gives "").
func (v *Value) Text() (string, error) {
	if v.Class != ClassChar {
		return "", v.errorf("is %s, not char", v.kind())
	}
	rows := v.rows()
	switch len(rows) {
	case 0:
		return "", nil
	case 1:
		return rows[0], nil
	}
	return "", v.errorf("is a char matrix with %d rows, want one string", len(rows))
}

// Strings returns the strings an array holds: the rows of a char array, or the text of each cell of
// a cell array whose cells are char arrays of at most one row (in column-major cell order). An empty
// cell of any class reads as "".
func (v *Value) Strings() ([]string, error) {
	switch v.Class {
	case ClassChar:
		return v.rows(), nil
	case ClassCell:
		out := make([]string, len(v.cells))
		for i, c := range v.cells {
			if c.Len() == 0 {
				continue // MATLAB's {[]}: no text
			}
			s, err := c.Text()
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, v.errorf("is %s, not char or cell", v.kind())
}

// rows splits a char array into its rows; the pages of an array of more than two dimensions
// continue each row, as MATLAB's reshape(c, size(c, 1), []) would.
func (v *Value) rows() []string {
	if len(v.Dims) == 0 || v.Dims[0] == 0 {
		return nil
	}
	r := v.Dims[0]
	cols := len(v.chars) / r
	out := make([]string, 0, r)
	row := make([]rune, cols)
	for i := range r {
		for j := range cols {
			row[j] = v.chars[i+j*r]
		}
		out = append(out, decodeRunes(row))
	}
	return out
}

// decodeRunes joins UTF-16 surrogate pairs stored as separate characters (MATLAB's char is UTF-16).
func decodeRunes(rs []rune) string {
	for _, r := range rs {
		if utf16.IsSurrogate(r) {
			u := make([]uint16, len(rs))
			for i, r := range rs {
				u[i] = uint16(r)
			}
			return string(utf16.Decode(u))
		}
	}
	return string(rs)
}

// Cell returns element i (0-based, column-major) of a cell array.
func (v *Value) Cell(i int) (*Value, error) {
	if v.Class != ClassCell {
		return nil, v.errorf("is %s, not cell", v.kind())
	}
	if i < 0 || i >= len(v.cells) {
		return nil, v.errorf("cell %d out of range [0, %d)", i, len(v.cells))
	}
	return v.cells[i], nil
}

// Fields returns the field names of a struct or object array, in file order.
func (v *Value) Fields() []string { return append([]string(nil), v.fields...) }

// HasField reports whether a struct or object array has the named field.
func (v *Value) HasField(name string) bool { return v.fieldIndex(name) >= 0 }

func (v *Value) fieldIndex(name string) int {
	for i, f := range v.fields {
		if f == name {
			return i
		}
	}
	return -1
}

// Field returns a field of a struct with exactly one element (MATLAB's s.name).
func (v *Value) Field(name string) (*Value, error) {
	if (v.Class == ClassStruct || v.Class == ClassObject) && v.Len() != 1 {
		return nil, v.errorf("is a struct array of %d elements; use FieldAt", v.Len())
	}
	return v.FieldAt(0, name)
}

// FieldAt returns field name of element i (0-based, column-major) of a struct array (MATLAB's
// s(i+1).name).
func (v *Value) FieldAt(i int, name string) (*Value, error) {
	if v.Class != ClassStruct && v.Class != ClassObject {
		return nil, v.errorf("is %s, not struct", v.kind())
	}
	f := v.fieldIndex(name)
	if f < 0 {
		return nil, v.errorf("has no field %q (fields: %s)", name, strings.Join(v.fields, ", "))
	}
	n := v.Len()
	if i < 0 || i >= n {
		return nil, v.errorf("element %d out of range [0, %d)", i, n)
	}
	return v.elems[i*len(v.fields)+f], nil
}

// ObjectClass returns the MATLAB class name of an object array ("" for other arrays).
func (v *Value) ObjectClass() string { return v.className }
