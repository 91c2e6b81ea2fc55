package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// decoder reads little-endian GGUF fields from buf. Every read checks the
// bytes left first, and every error carries the offset and the field.
type decoder struct {
	buf   []byte
	off   int
	where string // the field being read, for errors
	// clone makes array values copy their bytes out of buf, for when buf is
	// a mapping that Close will unmap.
	clone bool
}

func (d *decoder) left() int { return len(d.buf) - d.off }

// fail builds a FormatError at offset at.
func (d *decoder) fail(at int, err error) error {
	return &FormatError{Offset: int64(at), Where: d.where, Err: err}
}

func (d *decoder) need(n uint64, what string) error {
	if n > uint64(d.left()) {
		return d.fail(d.off, fmt.Errorf("%w: %s needs %d bytes, %d left", ErrTruncated, what, n, d.left()))
	}
	return nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	x := binary.LittleEndian.Uint32(d.buf[d.off:])
	d.off += 4
	return x, nil
}

func (d *decoder) u64(what string) (uint64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	x := binary.LittleEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return x, nil
}

// bytes returns the next n bytes of a length-prefixed string, checking the
// length against limit and the bytes left before slicing.
func (d *decoder) strBytes(what string, limit uint64) ([]byte, error) {
	at := d.off
	n, err := d.u64(what + " length")
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, d.fail(at, fmt.Errorf("%w: %s length %d is over the limit of %d", ErrLimit, what, n, limit))
	}
	if n > uint64(d.left()) {
		return nil, d.fail(at, fmt.Errorf("%w: %s length %d but only %d bytes left", ErrTruncated, what, n, d.left()))
	}
	p := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

func (d *decoder) str(what string, limit uint64) (string, error) {
	p, err := d.strBytes(what, limit)
	return string(p), err
}

// valueType reads a type tag and checks it is one GGUF defines.
func (d *decoder) valueType(what string) (ValueType, error) {
	at := d.off
	t, err := d.u32(what)
	if err != nil {
		return 0, err
	}
	if !ValueType(t).known() {
		return 0, d.fail(at, fmt.Errorf("%w %d", ErrValueType, t))
	}
	return ValueType(t), nil
}

// value reads one value of type t. depth counts enclosing arrays.
func (d *decoder) value(t ValueType, depth int) (Value, error) {
	switch t {
	case ValueString:
		s, err := d.str("string", MaxStringLen)
		return Value{typ: ValueString, str: s}, err
	case ValueArray:
		return d.array(depth + 1)
	}
	sz := t.size()
	if err := d.need(uint64(sz), t.String()); err != nil {
		return Value{}, err
	}
	v := Value{typ: t, num: readScalar(t, d.buf[d.off:])}
	d.off += sz
	return v, nil
}

// minEncoded is the fewest bytes one element of type t can take, used to
// bound an array's count by the bytes left before walking it.
func minEncoded(t ValueType) uint64 {
	switch t {
	case ValueString:
		return 8
	case ValueArray:
		return 12
	}
	return uint64(t.size())
}

// array reads an array header and walks its elements to find its end,
// allocating nothing per element: elements are decoded on demand later.
func (d *decoder) array(depth int) (Value, error) {
	at := d.off
	if depth > MaxNesting {
		return Value{}, d.fail(at, fmt.Errorf("%w: arrays nested more than %d deep", ErrLimit, MaxNesting))
	}
	elem, err := d.valueType("array element type")
	if err != nil {
		return Value{}, err
	}
	n, err := d.u64("array length")
	if err != nil {
		return Value{}, err
	}
	if m := minEncoded(elem); n > uint64(d.left())/m {
		return Value{}, d.fail(at, fmt.Errorf("%w: array of %d %s needs at least %d bytes each, %d bytes left",
			ErrTruncated, n, elem, m, d.left()))
	}
	start := d.off
	if sz := elem.size(); sz > 0 {
		d.off += int(n) * sz
	} else {
		for i := range n {
			if err := d.skip(elem, depth, i); err != nil {
				return Value{}, err
			}
		}
	}
	raw := d.buf[start:d.off]
	if d.clone {
		raw = bytes.Clone(raw)
	}
	return Value{typ: ValueArray, elem: elem, n: n, raw: raw}, nil
}

// skip steps over element i of a string or array array.
func (d *decoder) skip(elem ValueType, depth int, i uint64) error {
	if elem == ValueString {
		// Fast path; the error path below says which element failed.
		if d.left() >= 8 {
			if n := binary.LittleEndian.Uint64(d.buf[d.off:]); n <= uint64(d.left()-8) {
				d.off += 8 + int(n)
				return nil
			}
		}
		_, err := d.strBytes(fmt.Sprintf("array element %d", i), MaxStringLen)
		return err
	}
	clone := d.clone
	d.clone = false // the outer array clones the whole range once
	_, err := d.array(depth + 1)
	d.clone = clone
	return err
}
