package kernels

import (
	"errors"
	"fmt"
)

// Type is the storage format of a row of values.
type Type uint8

// The supported formats. The numbering is our own; it is not GGUF's.
const (
	F32    Type = iota // 4-byte IEEE float
	F16                // 2-byte IEEE half float
	BF16               // 2-byte bfloat16 (top half of a float32)
	Q8_0               // 32 values: f16 scale, 32 int8
	Q4_0               // 32 values: f16 scale, 16 bytes of 4-bit quants biased by 8
	Q4_K               // 256 values: f16 scale and min scale, 8×(6-bit scale, 6-bit min), 4-bit quants
	Q5_K               // 256 values: as Q4_K plus one high bit per quant
	Q6_K               // 256 values: 6-bit quants, 16 int8 scales, f16 scale
	Q8_K               // 256 values: f32 scale, 256 int8, 16 int16 partial sums (activations)
	Q4_1               // 32 values: f16 scale and min, 16 bytes of 4-bit quants
	Q5_0               // 32 values: f16 scale, 4 bytes of high bits, 16 bytes of low nibbles, biased by 16
	Q5_1               // 32 values: f16 scale and min, 4 bytes of high bits, 16 bytes of low nibbles
	IQ4_NL             // 32 values: f16 scale, 16 bytes of 4-bit indices into a fixed code book
	numTypes
)

// Block geometry of the super-block formats.
const (
	qk0      = 32  // values in a Q8_0 / Q4_0 block
	qkK      = 256 // values in a K-quant super-block
	kScales  = 12  // packed scale bytes of Q4_K and Q5_K
	q80Bytes = 2 + qk0
	q40Bytes = 2 + qk0/2
	q4KBytes = 2 + 2 + kScales + qkK/2
	q5KBytes = 2 + 2 + kScales + qkK/8 + qkK/2
	q6KBytes = qkK/2 + qkK/4 + qkK/16 + 2
	q8KBytes = 4 + qkK + 2*qkK/16
)

var typeInfo = [numTypes]struct {
	name  string
	block int // values per block
	bytes int // bytes per block
}{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q8_0: {"Q8_0", qk0, q80Bytes},
	Q4_0: {"Q4_0", qk0, q40Bytes},
	Q4_K: {"Q4_K", qkK, q4KBytes},
	Q5_K: {"Q5_K", qkK, q5KBytes},
	Q6_K: {"Q6_K", qkK, q6KBytes},
	Q8_K: {"Q8_K", qkK, q8KBytes},

	Q4_1:   {"Q4_1", qk0, q41Bytes},
	Q5_0:   {"Q5_0", qk0, q50Bytes},
	Q5_1:   {"Q5_1", qk0, q51Bytes},
	IQ4_NL: {"IQ4_NL", qk0, iq4NLBytes},
}

// Errors returned by the package.
var (
	// ErrType means the Type is not one this package knows.
	ErrType = errors.New("unknown tensor type")
	// ErrShape means a length is not a whole number of blocks or does not
	// match the other operands.
	ErrShape = errors.New("shape mismatch")
	// ErrClosed means the Pool was closed.
	ErrClosed = errors.New("pool closed")
)

// Valid reports whether t is one of the known types.
func (t Type) Valid() bool { return t < numTypes }

// String returns the conventional name of the type ("Q4_K").
func (t Type) String() string {
	if !t.Valid() {
		return fmt.Sprintf("Type(%d)", uint8(t))
	}
	return typeInfo[t].name
}

// BlockSize is the number of values one block holds.
func (t Type) BlockSize() int {
	if !t.Valid() {
		return 0
	}
	return typeInfo[t].block
}

// BlockBytes is the encoded size of one block.
func (t Type) BlockBytes() int {
	if !t.Valid() {
		return 0
	}
	return typeInfo[t].bytes
}

// RowBytes returns the encoded size of n values, which must be a whole
// number of blocks.
func (t Type) RowBytes(n int) (int, error) {
	if !t.Valid() {
		return 0, fmt.Errorf("%w: %d", ErrType, uint8(t))
	}
	bs := typeInfo[t].block
	if n < 0 || n%bs != 0 {
		return 0, fmt.Errorf("%w: %d values of %s (block of %d)", ErrShape, n, t, bs)
	}
	return n / bs * typeInfo[t].bytes, nil
}

// Matrix is a row-major weight matrix stored in one of the formats. Data is
// used in place (typically a slice of a memory-mapped file) and never
// written. After Repack, the first rows of Data are interleaved in groups
// (see repack.go) and only the package can read them.
type Matrix struct {
	Type     Type
	Rows     int
	Cols     int
	Data     []byte
	rowBytes int
	layout   layout // of the first groups·layoutRows[layout] rows
	groups   int
	parts    []int     // first row of each part and Rows (Concat); nil for one part
	mins     []float32 // block mins of Q4_1 or Q5_1 rows widened to Q8_0 (widenQ8)
}

// NewMatrix checks that data holds exactly rows rows of cols values of type t.
// Q8_K is an activation format and is not accepted as weights.
func NewMatrix(t Type, rows, cols int, data []byte) (Matrix, error) {
	if t == Q8_K {
		return Matrix{}, fmt.Errorf("%w: %s is not a weight format", ErrType, t)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix row: %w", err)
	}
	if rows < 0 || cols <= 0 || len(data) != rows*rb {
		return Matrix{}, fmt.Errorf("%w: %s matrix %d×%d needs %d bytes, have %d", ErrShape, t, rows, cols, rows*rb, len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb}, nil
}

// RowBytes is the encoded size of one row.
func (m *Matrix) RowBytes() int { return m.rowBytes }

// Interleaved reports whether Repack has interleaved the rows.
func (m *Matrix) Interleaved() bool { return m.layout != plain }

// groupedRows is how many rows, from the first, are interleaved.
func (m *Matrix) groupedRows() int { return layoutRows[m.layout] * m.groups }

// row returns the encoded bytes of a row that is not interleaved.
func (m *Matrix) row(r int) []byte { return m.Data[r*m.rowBytes : (r+1)*m.rowBytes] }

// DequantizeRow writes row r as float32 into dst (len(dst) == m.Cols); it
// reads either layout (token embeddings share the output matrix when the
// model ties them).
func (m *Matrix) DequantizeRow(dst []float32, r int) error {
	if r < 0 || r >= m.Rows {
		return fmt.Errorf("%w: row %d of %d", ErrShape, r, m.Rows)
	}
	if r < m.groupedRows() {
		if len(dst) != m.Cols {
			return fmt.Errorf("dequantize row: %w: %d values for %d columns", ErrShape, len(dst), m.Cols)
		}
		m.dequantGroupRow(dst, r)
		m.addMins(dst, r)
		return nil
	}
	if err := Dequantize(m.Type, dst, m.row(r)); err != nil {
		return err
	}
	m.addMins(dst, r)
	return nil
}

// Concat returns one matrix holding the rows of ms one after the other, a
// part each, for products that read the same activations (a layer's
// query, key and value matrices; its gate and up matrices): MatMulParts
// computes all the parts in one operation and writes each to its own
// output. The matrices must be plain (not yet interleaved), of one type
// and width, and every part's rows a multiple of 32, so that no
// interleaved group (Repack) spans two parts. The rows are copied.
func Concat(ms ...Matrix) (Matrix, error) {
	if len(ms) == 0 {
		return Matrix{}, fmt.Errorf("concat: %w: no matrices", ErrShape)
	}
	parts := []int{0}
	size := 0
	for i, m := range ms {
		switch {
		case m.Type != ms[0].Type || m.Cols != ms[0].Cols:
			return Matrix{}, fmt.Errorf("concat: %w: matrix %d is %s %d×%d, matrix 0 %s with %d columns", ErrShape, i, m.Type, m.Rows, m.Cols, ms[0].Type, ms[0].Cols)
		case m.layout != plain || m.parts != nil || m.mins != nil:
			return Matrix{}, fmt.Errorf("concat: %w: matrix %d is interleaved, widened or concatenated", ErrShape, i)
		case m.Rows%32 != 0:
			return Matrix{}, fmt.Errorf("concat: %w: matrix %d has %d rows, not a multiple of 32", ErrShape, i, m.Rows)
		}
		parts = append(parts, parts[len(parts)-1]+m.Rows)
		size += len(m.Data)
	}
	data := make([]byte, 0, size)
	for _, m := range ms {
		data = append(data, m.Data...)
	}
	out, err := NewMatrix(ms[0].Type, parts[len(parts)-1], ms[0].Cols, data)
	if err != nil {
		return Matrix{}, err
	}
	out.parts = parts
	return out, nil
}

// Parts is the number of matrices Concat joined into m (1 for any other
// matrix).
func (m *Matrix) Parts() int { return max(1, len(m.parts)-1) }
