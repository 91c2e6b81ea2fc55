package gguf

import (
	"fmt"
	"math/bits"
)

// TensorType is a ggml tensor element type, as stored in a tensor info.
// Quantised types pack a fixed number of elements into a block of fixed size.
type TensorType uint32

// Tensor types. The numbers are ggml's; gaps are types ggml has retired.
const (
	TypeF32     TensorType = 0
	TypeF16     TensorType = 1
	TypeQ4_0    TensorType = 2
	TypeQ4_1    TensorType = 3
	TypeQ5_0    TensorType = 6
	TypeQ5_1    TensorType = 7
	TypeQ8_0    TensorType = 8
	TypeQ8_1    TensorType = 9
	TypeQ2_K    TensorType = 10
	TypeQ3_K    TensorType = 11
	TypeQ4_K    TensorType = 12
	TypeQ5_K    TensorType = 13
	TypeQ6_K    TensorType = 14
	TypeQ8_K    TensorType = 15
	TypeIQ2_XXS TensorType = 16
	TypeIQ2_XS  TensorType = 17
	TypeIQ3_XXS TensorType = 18
	TypeIQ1_S   TensorType = 19
	TypeIQ4_NL  TensorType = 20
	TypeIQ3_S   TensorType = 21
	TypeIQ2_S   TensorType = 22
	TypeIQ4_XS  TensorType = 23
	TypeI8      TensorType = 24
	TypeI16     TensorType = 25
	TypeI32     TensorType = 26
	TypeI64     TensorType = 27
	TypeF64     TensorType = 28
	TypeIQ1_M   TensorType = 29
	TypeBF16    TensorType = 30
	TypeTQ1_0   TensorType = 34
	TypeTQ2_0   TensorType = 35
	TypeMXFP4   TensorType = 39
)

// typeInfo is the block geometry of one tensor type: blockSize elements are
// stored in typeSize bytes.
type typeInfo struct {
	name      string
	blockSize uint64
	typeSize  uint64
}

// typeTable holds every tensor type this package can size. The K-quants and
// IQ types use 256-element super-blocks; the byte counts are the sums of
// their block fields (scales, minimums, quants) in ggml's layouts.
var typeTable = map[TensorType]typeInfo{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", 256, 84},
	TypeQ3_K:    {"Q3_K", 256, 110},
	TypeQ4_K:    {"Q4_K", 256, 144},
	TypeQ5_K:    {"Q5_K", 256, 176},
	TypeQ6_K:    {"Q6_K", 256, 210},
	TypeQ8_K:    {"Q8_K", 256, 292},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	TypeIQ1_S:   {"IQ1_S", 256, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", 256, 110},
	TypeIQ2_S:   {"IQ2_S", 256, 82},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", 256, 56},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", 256, 54},
	TypeTQ2_0:   {"TQ2_0", 256, 66},
	TypeMXFP4:   {"MXFP4", 32, 17},
}

// Known reports whether the package knows the block geometry of t.
func (t TensorType) Known() bool {
	_, ok := typeTable[t]
	return ok
}

// String returns ggml's name for t, such as "Q4_K", or "type(N)" when unknown.
func (t TensorType) String() string {
	if ti, ok := typeTable[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns how many elements one block of t holds (1 for plain
// types), or 0 when t is unknown.
func (t TensorType) BlockSize() int { return int(typeTable[t].blockSize) }

// TypeSize returns the bytes of one block of t, or 0 when t is unknown.
func (t TensorType) TypeSize() int { return int(typeTable[t].typeSize) }

// ParseTensorType returns the type whose name is s (as String prints it).
func ParseTensorType(s string) (TensorType, bool) {
	for t, ti := range typeTable {
		if ti.name == s {
			return t, true
		}
	}
	return 0, false
}

// tensorSize checks a shape (ne[0] first) for type t and returns its element
// count and its size in bytes. It fails on an unknown type, more than MaxDims
// dimensions, a row length that is not a whole number of blocks, or a count
// or size that overflows int64.
func tensorSize(t TensorType, shape []uint64) (elems, size uint64, err error) {
	ti, ok := typeTable[t]
	if !ok {
		return 0, 0, fmt.Errorf("%w %d", ErrTensorType, uint32(t))
	}
	if len(shape) == 0 || len(shape) > MaxDims {
		return 0, 0, fmt.Errorf("%w: %d dimensions (want 1..%d)", ErrShape, len(shape), MaxDims)
	}
	if shape[0]%ti.blockSize != 0 {
		return 0, 0, fmt.Errorf("%w: row length %d is not a multiple of the %s block size %d",
			ErrShape, shape[0], ti.name, ti.blockSize)
	}
	const limit = 1<<63 - 1
	for i, d := range shape {
		if d > limit {
			return 0, 0, fmt.Errorf("%w: dimension %d is %d, larger than int64", ErrShape, i, d)
		}
	}
	elems, size = 1, shape[0]/ti.blockSize*ti.typeSize
	if shape[0]/ti.blockSize > limit/ti.typeSize {
		return 0, 0, fmt.Errorf("%w: size of shape %v overflows", ErrShape, shape)
	}
	for i, d := range shape {
		hi, lo := bits.Mul64(elems, d)
		if hi != 0 || lo > limit {
			return 0, 0, fmt.Errorf("%w: element count of shape %v overflows", ErrShape, shape)
		}
		elems = lo
		if i > 0 {
			hi, lo = bits.Mul64(size, d)
			if hi != 0 || lo > limit {
				return 0, 0, fmt.Errorf("%w: byte size of shape %v overflows", ErrShape, shape)
			}
			size = lo
		}
	}
	return elems, size, nil
}

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, numbered as in the GGUF format.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
}

// String returns the lowercase name of t, such as "uint32".
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("value_type(%d)", uint32(t))
}

// size returns the encoded size of a fixed-size value type, or 0 for
// strings, arrays and unknown types.
func (t ValueType) size() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

func (t ValueType) known() bool { return t <= ValueFloat64 }
