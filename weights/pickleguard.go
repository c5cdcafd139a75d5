package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// pickleExtent walks the opcodes of the pickle at the start of b without executing them and returns
// its length in bytes (through the STOP opcode). It exists because gopickle allocates every string,
// bytes or frame at the length the stream declares before reading it: a corrupted length would ask for
// gigabytes or terabytes. Here every declared length is checked against the bytes that remain, so the
// unpickler only ever runs on a pickle whose lengths fit the file. Unknown opcodes are errors.
func pickleExtent(b []byte) (int, error) {
	i := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-i) {
			return fmt.Errorf("pickle opcode at byte %d declares %d bytes, %d remain (a truncated or corrupted file?)", i, n, len(b)-i)
		}
		return nil
	}
	for i < len(b) {
		op := b[i]
		i++
		var n uint64 // bytes of argument after the opcode
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 0x88, 0x89, 'R', 'b', 'a', 'e', 'l', ']', 't', ')', 0x85, 0x86, 0x87,
			'd', '}', 's', 'u', 'o', 0x81, 0x92, 'Q', 0x93, 0x94, 0x8f, 0x90, 0x91, 0x97, 0x98:
		case 'K', 'q', 'h', 0x82, 0x80:
			n = 1
		case 'M', 0x83:
			n = 2
		case 'J', 'r', 'j', 0x84:
			n = 4
		case 'G', 0x95: // BINFLOAT; FRAME (its opcodes follow and are walked like the rest)
			n = 8
		case 0x8a, 'U', 'C', 0x8c: // LONG1, SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE
			if err := need(1); err != nil {
				return 0, err
			}
			n = 1 + uint64(b[i])
		case 'T', 'X', 'B', 0x8b: // BINSTRING, BINUNICODE, BINBYTES, LONG4
			if err := need(4); err != nil {
				return 0, err
			}
			n = 4 + uint64(binary.LittleEndian.Uint32(b[i:]))
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			if err := need(8); err != nil {
				return 0, err
			}
			l := binary.LittleEndian.Uint64(b[i:])
			if l > uint64(len(b)) {
				return 0, fmt.Errorf("pickle opcode at byte %d declares %d bytes, %d remain (a truncated or corrupted file?)", i-1, l, len(b)-i)
			}
			n = 8 + l
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // one line
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return 0, fmt.Errorf("pickle opcode %q at byte %d: unterminated line", op, i-1)
			}
			n = uint64(j + 1)
		case 'c', 'i': // GLOBAL, INST: two lines
			j := bytes.IndexByte(b[i:], '\n')
			k := -1
			if j >= 0 {
				k = bytes.IndexByte(b[i+j+1:], '\n')
			}
			if k < 0 {
				return 0, fmt.Errorf("pickle opcode %q at byte %d: unterminated line", op, i-1)
			}
			n = uint64(j + 1 + k + 1)
		default:
			return 0, fmt.Errorf("unknown pickle opcode 0x%02x at byte %d (not a pickle, or a corrupted one)", op, i-1)
		}
		if err := need(n); err != nil {
			return 0, err
		}
		i += int(n)
	}
	return 0, fmt.Errorf("pickle of %d bytes ends without a STOP opcode (a truncated file?)", len(b))
}
