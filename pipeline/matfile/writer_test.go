package matfile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"math"
	"unicode/utf16"
)

// A small MAT v5 writer for tests. It writes what scipy.io.savemat never does (big-endian files,
// MATLAB's habits: whole doubles stored as miUINT8, chars as UTF-16) and malformed files.

type wnum struct {
	class   Class
	typ     uint32 // storage type; 0 means the class's own
	dims    []int
	re, im  []float64
	logical bool
}

type wchar struct {
	dims []int
	s    string
	typ  uint32 // miUINT16 (MATLAB), miUTF8 (scipy) or miUINT8
}

type wcell struct {
	dims  []int
	cells []any
}

type wstruct struct {
	dims   []int
	fields []string
	elems  [][]any // elems[i][f]
}

type wvar struct {
	name string
	val  any
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type mwriter struct {
	order    byteOrder
	compress bool
}

func (w *mwriter) file(vars ...wvar) []byte {
	var out bytes.Buffer
	text := make([]byte, 116)
	copy(text, "MATLAB 5.0 MAT-file, written by finegrain's tests")
	for i := len("MATLAB 5.0 MAT-file, written by finegrain's tests"); i < len(text); i++ {
		text[i] = ' '
	}
	out.Write(text)
	out.Write(make([]byte, 8))
	var ver [2]byte
	w.order.PutUint16(ver[:], 0x0100)
	out.Write(ver[:])
	if w.order == byteOrder(binary.LittleEndian) {
		out.WriteString("IM")
	} else {
		out.WriteString("MI")
	}
	for _, v := range vars {
		el := w.matrix(v.name, v.val)
		if !w.compress {
			out.Write(el)
			continue
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(el)
		zw.Close()
		out.Write(w.tag(miCOMPRESSED, z.Len()))
		out.Write(z.Bytes())
	}
	return out.Bytes()
}

func (w *mwriter) tag(typ uint32, n int) []byte {
	b := make([]byte, 8)
	w.order.PutUint32(b, typ)
	w.order.PutUint32(b[4:], uint32(n))
	return b
}

// element writes a data element, in the small format when the data fits in 4 bytes.
func (w *mwriter) element(typ uint32, data []byte) []byte {
	if len(data) <= 4 && len(data) > 0 {
		b := make([]byte, 8)
		w.order.PutUint32(b, uint32(len(data))<<16|typ)
		copy(b[4:], data)
		return b
	}
	b := w.tag(typ, len(data))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *mwriter) header(name string, class Class, flags uint32, dims []int) []byte {
	fl := make([]byte, 8)
	w.order.PutUint32(fl, uint32(class)|flags)
	b := w.element(miUINT32, fl)
	ds := make([]byte, 4*len(dims))
	for i, d := range dims {
		w.order.PutUint32(ds[4*i:], uint32(int32(d)))
	}
	b = append(b, w.element(miINT32, ds)...)
	return append(b, w.element(miINT8, []byte(name))...)
}

func (w *mwriter) matrix(name string, v any) []byte {
	var body []byte
	switch v := v.(type) {
	case wnum:
		var flags uint32
		if v.logical {
			flags |= 0x0200
		}
		if v.im != nil {
			flags |= 0x0800
		}
		body = w.header(name, v.class, flags, v.dims)
		typ := v.typ
		if typ == 0 {
			typ = classType(v.class)
		}
		body = append(body, w.element(typ, w.numbers(typ, v.re))...)
		if v.im != nil {
			body = append(body, w.element(typ, w.numbers(typ, v.im))...)
		}
	case wchar:
		body = w.header(name, ClassChar, 0, v.dims)
		var data []byte
		switch v.typ {
		case miUTF8:
			data = []byte(v.s)
		case miUINT8:
			for _, r := range v.s {
				data = append(data, byte(r))
			}
		default:
			for _, u := range utf16.Encode([]rune(v.s)) {
				data = w.order.AppendUint16(data, u)
			}
		}
		typ := v.typ
		if typ == 0 {
			typ = miUINT16
		}
		body = append(body, w.element(typ, data)...)
	case wcell:
		body = w.header(name, ClassCell, 0, v.dims)
		for _, c := range v.cells {
			body = append(body, w.matrix("", c)...)
		}
	case wstruct:
		body = w.header(name, ClassStruct, 0, v.dims)
		const nameLen = 32
		body = append(body, w.element(miINT32, w.order.AppendUint32(nil, nameLen))...)
		names := make([]byte, nameLen*len(v.fields))
		for i, f := range v.fields {
			copy(names[i*nameLen:], f)
		}
		body = append(body, w.element(miINT8, names)...)
		for _, e := range v.elems {
			for _, f := range e {
				body = append(body, w.matrix("", f)...)
			}
		}
	case []byte: // a raw element body, for malformed input
		body = v
	default:
		panic("matfile test writer: unknown value type")
	}
	return append(w.tag(miMATRIX, len(body)), body...)
}

func classType(c Class) uint32 {
	return map[Class]uint32{
		ClassDouble: miDOUBLE, ClassSingle: miSINGLE, ClassInt8: miINT8, ClassUint8: miUINT8,
		ClassInt16: miINT16, ClassUint16: miUINT16, ClassInt32: miINT32, ClassUint32: miUINT32,
		ClassInt64: miINT64, ClassUint64: miUINT64,
	}[c]
}

func (w *mwriter) numbers(typ uint32, xs []float64) []byte {
	var b []byte
	for _, x := range xs {
		switch typ {
		case miINT8, miUINT8:
			b = append(b, byte(int64(x)))
		case miINT16, miUINT16:
			b = w.order.AppendUint16(b, uint16(int64(x)))
		case miINT32, miUINT32:
			b = w.order.AppendUint32(b, uint32(int64(x)))
		case miINT64:
			b = w.order.AppendUint64(b, uint64(int64(x)))
		case miUINT64:
			b = w.order.AppendUint64(b, uint64(x))
		case miSINGLE:
			b = w.order.AppendUint32(b, math.Float32bits(float32(x)))
		case miDOUBLE:
			b = w.order.AppendUint64(b, math.Float64bits(x))
		}
	}
	return b
}

// carsLike returns variables shaped like Stanford Cars' devkit files, written the way MATLAB does.
func carsLike() []wvar {
	ann := wstruct{dims: []int{1, 3}, fields: []string{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"}}
	for i := range 3 {
		x := float64(10 * (i + 1))
		ann.elems = append(ann.elems, []any{
			wnum{class: ClassDouble, typ: miUINT8, dims: []int{1, 1}, re: []float64{x}},
			wnum{class: ClassDouble, typ: miUINT8, dims: []int{1, 1}, re: []float64{x + 1}},
			wnum{class: ClassDouble, typ: miUINT16, dims: []int{1, 1}, re: []float64{x + 300}},
			wnum{class: ClassDouble, typ: miUINT16, dims: []int{1, 1}, re: []float64{x + 200}},
			wnum{class: ClassDouble, typ: miUINT8, dims: []int{1, 1}, re: []float64{float64(i + 1)}},
			wchar{dims: []int{1, 9}, s: []string{"00001.jpg", "00002.jpg", "00003.jpg"}[i]},
		})
	}
	names := wcell{dims: []int{1, 2}, cells: []any{
		wchar{dims: []int{1, 14}, s: "AM General H1 "},
		wchar{dims: []int{1, 13}, s: "Ram C/V 2012é"},
	}}
	return []wvar{{"annotations", ann}, {"class_names", names}}
}
