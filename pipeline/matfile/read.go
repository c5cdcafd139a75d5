package matfile

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/finegrain/finegrain/pipeline/safefile"
)

// Data types of MAT v5 data elements (miINT8 ...).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

var typeNames = map[uint32]string{
	miINT8: "miINT8", miUINT8: "miUINT8", miINT16: "miINT16", miUINT16: "miUINT16", miINT32: "miINT32",
	miUINT32: "miUINT32", miSINGLE: "miSINGLE", miDOUBLE: "miDOUBLE", miINT64: "miINT64",
	miUINT64: "miUINT64", miMATRIX: "miMATRIX", miCOMPRESSED: "miCOMPRESSED", miUTF8: "miUTF8",
	miUTF16: "miUTF16", miUTF32: "miUTF32",
}

func typeName(t uint32) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type %d", t)
}

const (
	headerLen = 128
	// maxDepth bounds the nesting of cells and structs, so that hostile input cannot exhaust the stack.
	maxDepth = 100
	// maxDecompressed bounds the size of one compressed variable once inflated (a zip-bomb guard);
	// annotation files are a few megabytes.
	maxDecompressed = 1 << 30
	// maxElements bounds the element count that dimensions may describe (sparse arrays can be
	// large without data); anything that holds data is also checked against the bytes present.
	maxElements = 1 << 50
)

// MaxFileBytes is the largest MAT-file ReadFile reads: dataset annotations are a few megabytes.
const MaxFileBytes = 256 << 20

// ReadFile reads all variables of the MAT-file at path, which must be a regular file (symbolic
// links followed) of at most MaxFileBytes: a named pipe or a device is refused, not read forever.
func ReadFile(path string) (map[string]*Value, error) {
	b, err := safefile.Read(context.Background(), path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	vars, err := Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vars, nil
}

// Read reads all variables of a MAT v5 file from r, keyed by variable name.
func Read(r io.Reader) (map[string]*Value, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("matfile: %w", err)
	}
	order, err := header(b)
	if err != nil {
		return nil, err
	}
	d := &decoder{order: order}
	vars := make(map[string]*Value)
	top := span{b: b}
	for off, k := headerLen, 0; off < len(b); k++ {
		path := fmt.Sprintf("variable #%d", k+1)
		el, next, err := d.element(top, off, path)
		if err != nil {
			return nil, err
		}
		var v *Value
		var name string
		switch el.typ {
		case miMATRIX:
			v, name, err = d.matrix(top.sub(el), path, true, 0)
		case miCOMPRESSED:
			v, name, err = d.compressed(top, el, path)
		default:
			// Not a variable (MATLAB writes nothing else at the top level): skip it.
		}
		if err != nil {
			return nil, err
		}
		if v != nil && name != "" {
			vars[name] = v
		}
		off = next
	}
	return vars, nil
}

// header checks the 128-byte file header and returns the file's byte order.
func header(b []byte) (binary.ByteOrder, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("matfile: file of %d bytes is shorter than the %d-byte MAT v5 header", len(b), headerLen)
	}
	var order binary.ByteOrder
	switch string(b[126:128]) {
	case "IM":
		order = binary.LittleEndian
	case "MI":
		order = binary.BigEndian
	default:
		return nil, errors.New("matfile: not a MAT v5 file (no endian indicator at offset 126; MAT v4 files are not supported)")
	}
	switch v := order.Uint16(b[124:]); v {
	case 0x0100:
	case 0x0200:
		return nil, errors.New("matfile: MAT v7.3 files are HDF5 and not supported; re-save with save(..., '-v7')")
	default:
		return nil, fmt.Errorf("matfile: unsupported MAT-file version %#04x at offset 124", v)
	}
	return order, nil
}

// span is a run of bytes being parsed: the file itself or a decompressed variable. Offsets in
// messages are file offsets, or offsets inside the inflated data of the compressed element at zoff.
type span struct {
	b    []byte
	base int  // file offset of b[0] when !inflated
	zoff int  // file offset of the compressed element when inflated
	infl bool // b is inflated data
}

func (s span) at(off int) string {
	if s.infl {
		return fmt.Sprintf("offset %d of the data inflated from the compressed element at offset %d", off, s.zoff)
	}
	return fmt.Sprintf("offset %d", s.base+off)
}

// sub returns the span of an element's data.
func (s span) sub(el element) span {
	return span{b: el.data, base: s.base + el.off + el.hdr, zoff: s.zoff, infl: s.infl}
}

func (s span) errorf(off int, path, format string, args ...any) error {
	return fmt.Errorf("matfile: %s at %s: %s", path, s.at(off), fmt.Sprintf(format, args...))
}

// element is one data element: its type, its data and where its tag starts.
type element struct {
	typ  uint32
	data []byte
	off  int // offset of the tag in its span
	hdr  int // tag length: 8, or 4 for the small data element format
}

type decoder struct {
	order binary.ByteOrder
}

// element reads the data element whose tag starts at off, and returns it and the offset of the next
// one (data is padded to 8 bytes except after compressed elements).
func (d *decoder) element(s span, off int, path string) (element, int, error) {
	left := len(s.b) - off
	if left < 8 {
		return element{}, 0, s.errorf(off, path, "truncated data element tag: %d bytes left, want 8", left)
	}
	v := d.order.Uint32(s.b[off:])
	if n := int(v >> 16); n != 0 { // small data element: type and size share the first word
		if n > 4 {
			return element{}, 0, s.errorf(off, path, "small data element of %s claims %d bytes, at most 4 fit", typeName(v&0xffff), n)
		}
		return element{typ: v & 0xffff, data: s.b[off+4 : off+4+n], off: off, hdr: 4}, off + 8, nil
	}
	n := uint64(d.order.Uint32(s.b[off+4:]))
	if n > uint64(left-8) {
		return element{}, 0, s.errorf(off, path, "%s element claims %d bytes, only %d left", typeName(v), n, left-8)
	}
	end := off + 8 + int(n)
	next := end
	if v != miCOMPRESSED {
		next = min(off+8+(int(n)+7)/8*8, len(s.b)) // padding may be missing after the last element
	}
	return element{typ: v, data: s.b[off+8 : end], off: off, hdr: 8}, next, nil
}

// expect reads the next element and checks that its type is one of types.
func (d *decoder) expect(s span, off int, path, what string, types ...uint32) (element, int, error) {
	el, next, err := d.element(s, off, path)
	if err != nil {
		return el, next, err
	}
	for _, t := range types {
		if el.typ == t {
			return el, next, nil
		}
	}
	want := make([]string, len(types))
	for i, t := range types {
		want[i] = typeName(t)
	}
	return el, next, s.errorf(off, path, "%s is %s, want %s", what, typeName(el.typ), strings.Join(want, " or "))
}

// compressed inflates a miCOMPRESSED element and reads the variable inside it.
func (d *decoder) compressed(s span, el element, path string) (*Value, string, error) {
	zoff := s.base + el.off
	zr, err := zlib.NewReader(bytes.NewReader(el.data))
	if err != nil {
		return nil, "", s.errorf(el.off, path, "compressed element: %v", err)
	}
	var tag [8]byte
	if _, err := io.ReadFull(zr, tag[:]); err != nil {
		return nil, "", s.errorf(el.off, path, "compressed element: reading the inner tag: %v", err)
	}
	n := int64(8)
	if d.order.Uint32(tag[:])>>16 == 0 {
		n += int64(d.order.Uint32(tag[4:]))
	}
	if n > maxDecompressed {
		return nil, "", s.errorf(el.off, path, "compressed element inflates to %d bytes, more than the %d allowed", n, maxDecompressed)
	}
	var buf bytes.Buffer
	buf.Write(tag[:])
	// Read exactly the inner element; the buffer grows with the data actually inflated, never with
	// the size the tag claims. MATLAB's Adler-32 checksums are not always right, so they are not read.
	if _, err := io.CopyN(&buf, zr, n-8); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, "", s.errorf(el.off, path, "compressed element: inflating %d bytes: %v", n, err)
	}
	in := span{b: buf.Bytes(), zoff: zoff, infl: true}
	inner, _, err := d.element(in, 0, path)
	if err != nil {
		return nil, "", err
	}
	if inner.typ != miMATRIX {
		return nil, "", nil // not a variable: skip it like an uncompressed one
	}
	return d.matrix(in.sub(inner), path, true, 0)
}

// matrix reads the data of a miMATRIX element. Top-level variables take their path from their name.
func (d *decoder) matrix(s span, path string, top bool, depth int) (*Value, string, error) {
	if depth > maxDepth {
		return nil, "", s.errorf(0, path, "cells and structs nested deeper than %d levels", maxDepth)
	}
	if len(s.b) == 0 { // MATLAB writes empty cells as matrices without subelements
		return &Value{Class: ClassDouble, Dims: []int{0, 0}, path: path}, "", nil
	}
	flags, off, err := d.expect(s, 0, path, "array flags", miUINT32)
	if err != nil {
		return nil, "", err
	}
	dimsEl, off, err := d.expect(s, off, path, "dimensions", miINT32)
	if err != nil {
		return nil, "", err
	}
	nameEl, off, err := d.expect(s, off, path, "array name", miINT8, miUINT8)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimRight(string(nameEl.data), "\x00")
	if top && name != "" {
		path = name
	}

	if len(flags.data) != 8 {
		return nil, "", s.errorf(flags.off, path, "array flags have %d bytes, want 8", len(flags.data))
	}
	word := d.order.Uint32(flags.data)
	class := Class(word & 0xff)
	v := &Value{Class: class, Complex: word&0x0800 != 0, Logical: word&0x0200 != 0, path: path}
	if len(dimsEl.data)%4 != 0 || len(dimsEl.data) == 0 {
		return nil, "", s.errorf(dimsEl.off, path, "dimensions element has %d bytes, want a positive multiple of 4", len(dimsEl.data))
	}
	count := 1
	for i := 0; i < len(dimsEl.data); i += 4 {
		dim := int32(d.order.Uint32(dimsEl.data[i:]))
		if dim < 0 {
			return nil, "", s.errorf(dimsEl.off, path, "dimension %d is negative (%d)", i/4+1, dim)
		}
		v.Dims = append(v.Dims, int(dim))
		if count != 0 && int(dim) > maxElements/count { // keeps count*dim far from overflow
			return nil, "", s.errorf(dimsEl.off, path, "dimensions %v describe more elements than any file holds", v.Dims)
		}
		count *= int(dim)
	}

	switch {
	case class.Numeric():
		err = d.numeric(s, off, v, count)
	case class == ClassChar:
		err = d.char(s, off, v, count)
	case class == ClassCell:
		err = d.cell(s, off, v, count, depth)
	case class == ClassStruct:
		err = d.structure(s, off, v, count, depth)
	case class == ClassObject:
		var cn element
		cn, off, err = d.expect(s, off, path, "object class name", miINT8, miUINT8)
		if err == nil {
			v.className = strings.TrimRight(string(cn.data), "\x00")
			err = d.structure(s, off, v, count, depth)
		}
	case class == ClassSparse || class == ClassFunction || class == ClassOpaque:
		// Read as a value of its class without data; no dataset uses these.
	default:
		err = s.errorf(0, path, "unknown array class %d", uint8(class))
	}
	if err != nil {
		return nil, "", err
	}
	return v, name, nil
}

func (d *decoder) numeric(s span, off int, v *Value, count int) error {
	re, next, err := d.element(s, off, v.path)
	if err != nil {
		return err
	}
	if v.real, v.ints, err = d.numbers(s, re, v.path, "real part", count); err != nil {
		return err
	}
	if v.Complex {
		im, _, err := d.element(s, next, v.path)
		if err != nil {
			return err
		}
		if v.imag, _, err = d.numbers(s, im, v.path, "imaginary part", count); err != nil {
			return err
		}
	}
	if v.Logical && v.ints == nil {
		v.ints = make([]int64, len(v.real))
		for i, f := range v.real {
			v.ints[i] = int64(f)
		}
	}
	return nil
}

// numbers decodes numeric data of any integer or floating type into float64 (and into int64 when
// the type is an integer type: MATLAB stores doubles that are whole numbers in the smallest integer
// type that holds them).
func (d *decoder) numbers(s span, el element, path, what string, count int) ([]float64, []int64, error) {
	size := 0
	switch el.typ {
	case miINT8, miUINT8:
		size = 1
	case miINT16, miUINT16:
		size = 2
	case miINT32, miUINT32, miSINGLE:
		size = 4
	case miDOUBLE, miINT64, miUINT64:
		size = 8
	default:
		return nil, nil, s.errorf(el.off, path, "%s has data type %s, want a numeric type", what, typeName(el.typ))
	}
	b := el.data
	if len(b)%size != 0 || len(b)/size != count {
		return nil, nil, s.errorf(el.off, path, "%s has %d bytes of %s, want %d elements", what, len(b), typeName(el.typ), count)
	}
	fs := make([]float64, count)
	var is []int64
	isInt := el.typ != miSINGLE && el.typ != miDOUBLE
	if isInt {
		is = make([]int64, count)
	}
	o := d.order
	for i := range count {
		p := b[i*size:]
		switch el.typ {
		case miINT8:
			is[i] = int64(int8(p[0]))
		case miUINT8:
			is[i] = int64(p[0])
		case miINT16:
			is[i] = int64(int16(o.Uint16(p)))
		case miUINT16:
			is[i] = int64(o.Uint16(p))
		case miINT32:
			is[i] = int64(int32(o.Uint32(p)))
		case miUINT32:
			is[i] = int64(o.Uint32(p))
		case miINT64:
			is[i] = int64(o.Uint64(p))
		case miUINT64:
			u := o.Uint64(p)
			fs[i] = float64(u)
			if u > math.MaxInt64 {
				is = nil // not representable: Int64s falls back to the floats and reports it
				isInt = false
			} else if is != nil {
				is[i] = int64(u)
			}
			continue
		case miSINGLE:
			fs[i] = float64(math.Float32frombits(o.Uint32(p)))
			continue
		case miDOUBLE:
			fs[i] = math.Float64frombits(o.Uint64(p))
			continue
		}
		fs[i] = float64(is[i])
	}
	if !isInt {
		is = nil
	}
	return fs, is, nil
}

func (d *decoder) char(s span, off int, v *Value, count int) error {
	el, _, err := d.element(s, off, v.path)
	if err != nil {
		return err
	}
	b := el.data
	var rs []rune
	switch el.typ {
	case miUINT16, miUTF16, miINT16:
		if len(b)%2 != 0 {
			return s.errorf(el.off, v.path, "UTF-16 char data has an odd number of bytes (%d)", len(b))
		}
		rs = make([]rune, len(b)/2)
		for i := range rs {
			rs[i] = rune(d.order.Uint16(b[2*i:]))
		}
	case miUTF8:
		rs = []rune(string(b))
	case miUINT8, miINT8: // one byte per character (Latin-1)
		rs = make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
	case miUTF32, miUINT32, miINT32:
		if len(b)%4 != 0 {
			return s.errorf(el.off, v.path, "UTF-32 char data has %d bytes, not a multiple of 4", len(b))
		}
		rs = make([]rune, len(b)/4)
		for i := range rs {
			rs[i] = rune(d.order.Uint32(b[4*i:]))
		}
	default:
		return s.errorf(el.off, v.path, "char data has type %s, want a character type", typeName(el.typ))
	}
	if len(rs) != count {
		return s.errorf(el.off, v.path, "char data holds %d characters, dimensions %v want %d", len(rs), v.Dims, count)
	}
	v.chars = rs
	return nil
}

// children checks that n more elements can follow at off before anything is allocated for them:
// each takes at least a tag's 8 bytes.
func children(s span, off int, path string, n int, what string) error {
	if left := len(s.b) - off; n > left/8 {
		return s.errorf(off, path, "%d %s claimed, but only %d bytes are left", n, what, max(left, 0))
	}
	return nil
}

func (d *decoder) cell(s span, off int, v *Value, count, depth int) error {
	if err := children(s, off, v.path, count, "cells"); err != nil {
		return err
	}
	v.cells = make([]*Value, count)
	for i := range count {
		path := fmt.Sprintf("%s[%d]", v.path, i)
		el, next, err := d.expect(s, off, path, "cell", miMATRIX)
		if err != nil {
			return err
		}
		if v.cells[i], _, err = d.matrix(s.sub(el), path, false, depth+1); err != nil {
			return err
		}
		off = next
	}
	return nil
}

func (d *decoder) structure(s span, off int, v *Value, count, depth int) error {
	lenEl, next, err := d.expect(s, off, v.path, "field name length", miINT32)
	if err != nil {
		return err
	}
	if len(lenEl.data) != 4 {
		return s.errorf(off, v.path, "field name length has %d bytes, want 4", len(lenEl.data))
	}
	nameLen := int(int32(d.order.Uint32(lenEl.data)))
	off = next
	namesEl, next, err := d.expect(s, off, v.path, "field names", miINT8, miUINT8)
	if err != nil {
		return err
	}
	names := namesEl.data
	if nameLen <= 0 && len(names) > 0 || nameLen > 0 && len(names)%nameLen != 0 {
		return s.errorf(off, v.path, "field names take %d bytes, not a multiple of the name length %d", len(names), nameLen)
	}
	for i := 0; i < len(names); i += nameLen {
		name, _, _ := strings.Cut(string(names[i:i+nameLen]), "\x00")
		v.fields = append(v.fields, name)
	}
	off = next
	nf := len(v.fields)
	if nf == 0 {
		return nil
	}
	if err := children(s, off, v.path, count, "struct elements"); err != nil {
		return err
	}
	if err := children(s, off, v.path, count*nf, "field values"); err != nil {
		return err
	}
	v.elems = make([]*Value, count*nf)
	for i := range count {
		for f, field := range v.fields {
			path := v.path + "." + field
			if count != 1 {
				path = fmt.Sprintf("%s[%d].%s", v.path, i, field)
			}
			el, next, err := d.expect(s, off, path, "field value", miMATRIX)
			if err != nil {
				return err
			}
			if v.elems[i*nf+f], _, err = d.matrix(s.sub(el), path, false, depth+1); err != nil {
				return err
			}
			off = next
		}
	}
	return nil
}
