package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is one metadata value: a scalar, a string or an array. Arrays keep
// their encoded bytes and are decoded by the accessor that asks for them, so
// a 128k-entry vocabulary costs nothing until a tokenizer reads it.
// The zero Value has type uint8 and value 0; use ValueOf to build one.
type Value struct {
	typ  ValueType
	num  uint64 // scalar numbers and bools, as their raw bits
	str  string
	elem ValueType // array element type
	n    uint64    // array length
	raw  []byte    // array elements, encoded as in the file
}

// Type returns the value's type tag.
func (v Value) Type() ValueType { return v.typ }

// ElemType returns an array's element type; it is meaningless for scalars.
func (v Value) ElemType() ValueType { return v.elem }

// Len returns an array's element count, or 0 for a scalar.
func (v Value) Len() int {
	if v.typ != ValueArray {
		return 0
	}
	return int(v.n)
}

// Uint returns an integer value as uint64. It accepts every integer type;
// negative values report false.
func (v Value) Uint() (uint64, bool) {
	switch v.typ {
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		return v.num, true
	case ValueInt8, ValueInt16, ValueInt32, ValueInt64:
		if i := int64(v.num); i >= 0 {
			return uint64(i), true
		}
	}
	return 0, false
}

// Int returns an integer value as int64. It accepts every integer type;
// unsigned values above math.MaxInt64 report false.
func (v Value) Int() (int64, bool) {
	switch v.typ {
	case ValueInt8, ValueInt16, ValueInt32, ValueInt64:
		return int64(v.num), true
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		if v.num <= math.MaxInt64 {
			return int64(v.num), true
		}
	}
	return 0, false
}

// Float returns a float value as float64. Integer values are converted too,
// since some writers store whole-number hyperparameters as integers.
func (v Value) Float() (float64, bool) {
	switch v.typ {
	case ValueFloat32:
		return float64(math.Float32frombits(uint32(v.num))), true
	case ValueFloat64:
		return math.Float64frombits(v.num), true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if u, ok := v.Uint(); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) {
	if v.typ != ValueBool {
		return false, false
	}
	return v.num != 0, true
}

// Text returns a string value.
func (v Value) Text() (string, bool) {
	if v.typ != ValueString {
		return "", false
	}
	return v.str, true
}

// Strings decodes an array of strings. Each call allocates a new slice.
func (v Value) Strings() ([]string, bool) {
	if v.typ != ValueArray || v.elem != ValueString {
		return nil, false
	}
	out := make([]string, v.n)
	p := v.raw
	for i := range out {
		if len(p) < 8 {
			return nil, false
		}
		n := binary.LittleEndian.Uint64(p)
		if n > uint64(len(p)-8) {
			return nil, false
		}
		out[i] = string(p[8 : 8+n])
		p = p[8+n:]
	}
	return out, true
}

// Float32s decodes an array of float32 (or float64, narrowed).
func (v Value) Float32s() ([]float32, bool) {
	if v.typ != ValueArray || (v.elem != ValueFloat32 && v.elem != ValueFloat64) {
		return nil, false
	}
	out := make([]float32, v.n)
	for i := range out {
		e := v.scalarAt(i)
		f, _ := e.Float()
		out[i] = float32(f)
	}
	return out, true
}

// Int32s decodes an array of any integer type whose values all fit in int32
// (token types are stored as int32, but some writers use other widths).
func (v Value) Int32s() ([]int32, bool) {
	if v.typ != ValueArray || !isInteger(v.elem) {
		return nil, false
	}
	out := make([]int32, v.n)
	for i := range out {
		x, ok := v.scalarAt(i).Int()
		if !ok || x < math.MinInt32 || x > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(x)
	}
	return out, true
}

// Values decodes an array into its elements, which is the way to read
// arrays of arrays. Each call allocates a Value per element (tens of bytes
// each), so prefer the typed accessors for long arrays.
func (v Value) Values() ([]Value, bool) {
	if v.typ != ValueArray {
		return nil, false
	}
	out := make([]Value, v.n)
	if sz := v.elem.size(); sz > 0 {
		for i := range out {
			out[i] = v.scalarAt(i)
		}
		return out, true
	}
	d := decoder{buf: v.raw}
	for i := range out {
		e, err := d.value(v.elem, 1)
		if err != nil {
			return nil, false
		}
		out[i] = e
	}
	return out, true
}

// scalarAt returns element i of an array of fixed-size values. The caller
// has checked the type; the bytes were length-checked when the array was made.
func (v Value) scalarAt(i int) Value {
	sz := v.elem.size()
	return Value{typ: v.elem, num: readScalar(v.elem, v.raw[i*sz:])}
}

// readScalar decodes a fixed-size value, sign-extending signed integers so
// that Int can return them directly.
func readScalar(t ValueType, p []byte) uint64 {
	switch t {
	case ValueUint8, ValueBool:
		return uint64(p[0])
	case ValueInt8:
		return uint64(int64(int8(p[0])))
	case ValueUint16:
		return uint64(binary.LittleEndian.Uint16(p))
	case ValueInt16:
		return uint64(int64(int16(binary.LittleEndian.Uint16(p))))
	case ValueUint32, ValueFloat32:
		return uint64(binary.LittleEndian.Uint32(p))
	case ValueInt32:
		return uint64(int64(int32(binary.LittleEndian.Uint32(p))))
	default: // 64-bit types
		return binary.LittleEndian.Uint64(p)
	}
}

func isInteger(t ValueType) bool {
	switch t {
	case ValueUint8, ValueInt8, ValueUint16, ValueInt16, ValueUint32, ValueInt32, ValueUint64, ValueInt64:
		return true
	}
	return false
}

// String formats the value for people: scalars as Go would print them,
// strings quoted, arrays by element type and length with their first elements.
func (v Value) String() string {
	switch v.typ {
	case ValueString:
		return strconv.Quote(v.str)
	case ValueBool:
		return strconv.FormatBool(v.num != 0)
	case ValueFloat32:
		f, _ := v.Float()
		return strconv.FormatFloat(f, 'g', -1, 32)
	case ValueFloat64:
		f, _ := v.Float()
		return strconv.FormatFloat(f, 'g', -1, 64)
	case ValueArray:
		return v.arrayString()
	}
	if i, ok := v.Int(); ok {
		return strconv.FormatInt(i, 10)
	}
	return strconv.FormatUint(v.num, 10)
}

func (v Value) arrayString() string {
	const show = 4
	var b strings.Builder
	fmt.Fprintf(&b, "[%d]%s{", v.n, v.elem)
	vals, _ := v.head(show)
	for i, e := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.String())
	}
	if v.n > show {
		b.WriteString(", ...")
	}
	b.WriteString("}")
	return b.String()
}

// head decodes at most n leading elements of an array.
func (v Value) head(n int) ([]Value, bool) {
	m := min(uint64(n), v.n)
	d := decoder{buf: v.raw}
	out := make([]Value, 0, m)
	for range m {
		e, err := d.value(v.elem, 1)
		if err != nil {
			return out, false
		}
		out = append(out, e)
	}
	return out, true
}

// ValueOf converts a Go value into a metadata Value for the Writer.
// Accepted: uint8, int8, uint16, int16, uint32, int32, uint64, int64,
// float32, float64, bool, string, slices of any of those, a Value, and
// []Value (an array whose elements all have one type, such as arrays, for
// nested arrays). Plain int and uint are refused: GGUF needs a width.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case Value:
		return x, nil
	case uint8:
		return Value{typ: ValueUint8, num: uint64(x)}, nil
	case int8:
		return Value{typ: ValueInt8, num: uint64(int64(x))}, nil
	case uint16:
		return Value{typ: ValueUint16, num: uint64(x)}, nil
	case int16:
		return Value{typ: ValueInt16, num: uint64(int64(x))}, nil
	case uint32:
		return Value{typ: ValueUint32, num: uint64(x)}, nil
	case int32:
		return Value{typ: ValueInt32, num: uint64(int64(x))}, nil
	case uint64:
		return Value{typ: ValueUint64, num: x}, nil
	case int64:
		return Value{typ: ValueInt64, num: uint64(x)}, nil
	case float32:
		return Value{typ: ValueFloat32, num: uint64(math.Float32bits(x))}, nil
	case float64:
		return Value{typ: ValueFloat64, num: math.Float64bits(x)}, nil
	case bool:
		var n uint64
		if x {
			n = 1
		}
		return Value{typ: ValueBool, num: n}, nil
	case string:
		return Value{typ: ValueString, str: x}, nil
	case []Value:
		return arrayOfValues(x)
	}
	return sliceValue(x)
}

// sliceValue handles the slice cases of ValueOf.
func sliceValue(x any) (Value, error) {
	switch x := x.(type) {
	case []uint8:
		return fixedArray(ValueUint8, x), nil
	case []int8:
		return fixedArray(ValueInt8, x), nil
	case []uint16:
		return fixedArray(ValueUint16, x), nil
	case []int16:
		return fixedArray(ValueInt16, x), nil
	case []uint32:
		return fixedArray(ValueUint32, x), nil
	case []int32:
		return fixedArray(ValueInt32, x), nil
	case []uint64:
		return fixedArray(ValueUint64, x), nil
	case []int64:
		return fixedArray(ValueInt64, x), nil
	case []float32:
		return fixedArray(ValueFloat32, x), nil
	case []float64:
		return fixedArray(ValueFloat64, x), nil
	case []bool:
		return fixedArray(ValueBool, x), nil
	case []string:
		size := 0
		for _, s := range x {
			size += 8 + len(s)
		}
		raw := make([]byte, 0, size)
		for _, s := range x {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(len(s)))
			raw = append(raw, s...)
		}
		return Value{typ: ValueArray, elem: ValueString, n: uint64(len(x)), raw: raw}, nil
	}
	return Value{}, fmt.Errorf("%w: cannot store a %T as metadata", ErrWriter, x)
}

// fixedArray encodes a slice of fixed-size values little-endian.
func fixedArray[T uint8 | int8 | uint16 | int16 | uint32 | int32 | uint64 | int64 | float32 | float64 | bool](t ValueType, xs []T) Value {
	raw, _ := binary.Append(make([]byte, 0, len(xs)*t.size()), binary.LittleEndian, xs)
	return Value{typ: ValueArray, elem: t, n: uint64(len(xs)), raw: raw}
}

// arrayOfValues encodes an array from Values that all share one type.
func arrayOfValues(xs []Value) (Value, error) {
	if len(xs) == 0 {
		return Value{}, fmt.Errorf("%w: an empty []Value has no element type; use a typed empty slice", ErrWriter)
	}
	elem := xs[0].typ
	var raw []byte
	for i, x := range xs {
		if x.typ != elem {
			return Value{}, fmt.Errorf("%w: array element %d is %s, element 0 is %s", ErrWriter, i, x.typ, elem)
		}
		raw = appendValue(raw, x, false)
	}
	return Value{typ: ValueArray, elem: elem, n: uint64(len(xs)), raw: raw}, nil
}

// appendValue encodes v; withType also writes its type tag first.
func appendValue(b []byte, v Value, withType bool) []byte {
	if withType {
		b = binary.LittleEndian.AppendUint32(b, uint32(v.typ))
	}
	switch v.typ {
	case ValueString:
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v.str)))
		return append(b, v.str...)
	case ValueArray:
		b = binary.LittleEndian.AppendUint32(b, uint32(v.elem))
		b = binary.LittleEndian.AppendUint64(b, v.n)
		return append(b, v.raw...)
	}
	switch v.typ.size() {
	case 1:
		return append(b, byte(v.num))
	case 2:
		return binary.LittleEndian.AppendUint16(b, uint16(v.num))
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(v.num))
	}
	return binary.LittleEndian.AppendUint64(b, v.num)
}
