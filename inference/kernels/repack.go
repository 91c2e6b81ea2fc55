package kernels

import (
	"encoding/binary"
	"runtime"
	"sync"
)

// Interleaved layouts. Repack copies a matrix's rows, taken in groups, into
// the arrangement the kernel set in use reads fastest; the group takes the
// same bytes as its rows did, so rows after the last full group keep their
// plain place. The portable kernels read every layout (slowly), so a
// matrix stays usable whatever kernel set is chosen later.
//
// Q4_0 and Q8_0 (8 or 16 rows): for each block of 32 columns a group
// stores its rows' f16 scales (2 bytes each, row order) and then the quants
// in 4-byte pieces, piece c of row j at 2·rows + 4·rows·c + 4j. One vector
// load thus holds the same four columns of all the rows, which multiply one
// broadcast 4-byte piece of the activations, and lane j of the result
// belongs to row j: no horizontal sums, one conversion for all the rows.
// For Q4_0 a piece's low nibbles are columns 4c..4c+3 and its high nibbles
// columns 16+4c..16+4c+3; for Q8_0 piece c is columns 4c..4c+3. In the
// 16-row Q8_0 layout the quants are stored plus 128 (unsigned), the form
// the AVX-512 VNNI instruction multiplies; the kernels take 128·Σx off.
//
// F16 and BF16 (32 rows): column after column, the 32 rows' values of the
// column (64 bytes), so one load and two conversions give a column of 32
// rows in float32 lanes.
type layout uint8

const (
	plain   layout = iota
	q4x8           // Q4_0, 8 rows (AVX2 kernels)
	q8x8           // Q8_0, 8 rows (AVX2 kernels)
	q4x16          // Q4_0, 16 rows (AVX-512 kernels)
	q8x16          // Q8_0, 16 rows, quants biased to unsigned (AVX-512 kernels)
	f16x32         // F16, 32 rows, column-major in the group (AVX-512 kernels)
	bf16x32        // BF16, as f16x32
	numLayouts
)

// layoutRows is the rows of one group of each layout.
var layoutRows = [numLayouts]int{plain: 1, q4x8: 8, q8x8: 8, q4x16: 16, q8x16: 16, f16x32: 32, bf16x32: 32}

// layoutAct is the activation form the group kernels of each layout read.
var layoutAct = [numLayouts]actFormat{q4x8: actQ8P, q8x8: actQ8, q4x16: actQ8P, q8x16: actQ8P, f16x32: actF16, bf16x32: actBF16}

// layoutType is the weight type each layout holds.
var layoutType = [numLayouts]Type{q4x8: Q4_0, q8x8: Q8_0, q4x16: Q4_0, q8x16: Q8_0, f16x32: F16, bf16x32: BF16}

// Repack returns a copy of m with its rows interleaved in the layout the
// kernels in use read fastest for its type (see above); when they have
// none, or m is already interleaved, it returns m unchanged (but Q4_1,
// Q5_0, Q5_1 and IQ4_NL as Q8_0 when the kernels have assembly for it). The copy
// costs as much memory as the weights (the mapped file's pages can then be
// dropped by the kernel), plus up to a quarter to fill its last huge page
// (hugeBytes), and one pass over them.
func Repack(m Matrix) Matrix {
	m, _ = widenQ8(m) // the 32-value formats run as Q8_0 (q41q50.go)
	lay := impl.types[m.Type].layout
	rows := layoutRows[lay]
	if lay == plain || m.layout != plain || m.Rows < rows {
		return m
	}
	g := m.Rows / rows
	data := hugeBytes(len(m.Data))
	AdviseHuge(data)
	// A one-off pass at load: spread it over the cores.
	workers := min(runtime.GOMAXPROCS(0), g)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for gi := w * g / workers; gi < (w+1)*g/workers; gi++ {
				gb := rows * m.rowBytes
				interleave(lay, data[gi*gb:(gi+1)*gb], m.Data[gi*gb:(gi+1)*gb], m.rowBytes)
			}
		})
	}
	wg.Wait()
	copy(data[g*rows*m.rowBytes:], m.Data[g*rows*m.rowBytes:])
	collapseHuge(data)
	m.Data, m.layout, m.groups = data, lay, g
	return m
}

// interleave writes the plain rows in src (rb bytes each) as one group of
// layout lay into dst.
func interleave(lay layout, dst, src []byte, rb int) {
	rows := layoutRows[lay]
	if lay == f16x32 || lay == bf16x32 {
		for k := range rb / 2 {
			for j := range rows {
				dst[64*k+2*j], dst[64*k+2*j+1] = src[j*rb+2*k], src[j*rb+2*k+1]
			}
		}
		return
	}
	ty := layoutType[lay]
	bb := ty.BlockBytes()
	pieces := (bb - 2) / 4
	var bias uint32
	if lay == q8x16 {
		bias = 0x80808080
	}
	for b := range rb / bb {
		blk := dst[b*rows*bb : (b+1)*rows*bb]
		for j := range rows {
			s := src[j*rb+b*bb : j*rb+(b+1)*bb]
			blk[2*j], blk[2*j+1] = s[0], s[1]
			for c := range pieces {
				binary.LittleEndian.PutUint32(blk[2*rows+4*rows*c+4*j:], binary.LittleEndian.Uint32(s[2+4*c:])^bias)
			}
		}
	}
}

// dequantGroupRow writes row r, which lies in an interleaved group, as
// float32 into dst.
func (m *Matrix) dequantGroupRow(dst []float32, r int) {
	rows := layoutRows[m.layout]
	gb := rows * m.rowBytes
	g := m.Data[r/rows*gb : (r/rows+1)*gb]
	j := r % rows
	switch m.layout {
	case f16x32:
		for k := range dst {
			dst[k] = f16Table[le16(g[64*k+2*j:])]
		}
		return
	case bf16x32:
		for k := range dst {
			dst[k] = BF16ToF32(le16(g[64*k+2*j:]))
		}
		return
	}
	bb := m.Type.BlockBytes()
	var bias byte
	if m.layout == q8x16 {
		bias = 0x80
	}
	for b := range m.Cols / qk0 {
		blk := g[b*rows*bb : (b+1)*rows*bb]
		d := f16Table[le16(blk[2*j:])]
		y := dst[b*qk0 : (b+1)*qk0]
		if m.Type == Q4_0 {
			for c := range 4 {
				for k := range 4 {
					v := blk[2*rows+4*rows*c+4*j+k]
					y[4*c+k] = d * float32(int(v&0xf)-8)
					y[16+4*c+k] = d * float32(int(v>>4)-8)
				}
			}
			continue
		}
		for c := range 8 {
			for k := range 4 {
				y[4*c+k] = d * float32(int8(blk[2*rows+4*rows*c+4*j+k]^bias))
			}
		}
	}
}

// groupDotFallback holds the portable group product of each layout, used
// when the kernels in use read another layout.
var groupDotFallback = func() (f [numLayouts]func(g []byte, a *Activations, t, n int, out []float32, stride int)) {
	for lay := range f {
		f[lay] = func(g []byte, a *Activations, t, n int, out []float32, stride int) {
			groupDotGo(layout(lay), g, a, t, n, out, stride)
		}
	}
	return f
}()

// groupDotGo is the portable product of an interleaved group (all its
// columns) of layout lay with activation rows t..t+n-1, row j of token k
// at out[k*stride+j]. Quantised layouts have the arithmetic of dotQ4_0Go
// and dotQ8_0Go; F16 adds the products in column order.
func groupDotGo(lay layout, g []byte, a *Activations, t, n int, out []float32, stride int) {
	rows := layoutRows[lay]
	if lay == f16x32 || lay == bf16x32 {
		dec, act := F16ToF32, actF16
		if lay == bf16x32 {
			dec, act = BF16ToF32, actBF16
		}
		for i := range n {
			x := a.floatRow(act, t+i)
			for j := range rows {
				var s float32
				for k, v := range x {
					s += dec(le16(g[64*k+2*j:])) * v
				}
				out[i*stride+j] = s
			}
		}
		return
	}
	bb := layoutType[lay].BlockBytes()
	for i := range n {
		q, d := a.q8Row(t + i)
		for j := range rows {
			var acc float32
			for b := range d {
				blk := g[b*rows*bb : (b+1)*rows*bb]
				x := q[b*qk0 : (b+1)*qk0]
				var s int32
				switch lay {
				case q4x8, q4x16:
					for c := range 4 {
						for k := range 4 {
							v := blk[2*rows+4*rows*c+4*j+k]
							s += (int32(v&0xf)-8)*int32(x[4*c+k]) + (int32(v>>4)-8)*int32(x[16+4*c+k])
						}
					}
				default:
					var bias byte
					if lay == q8x16 {
						bias = 0x80
					}
					for c := range 8 {
						for k := range 4 {
							s += int32(int8(blk[2*rows+4*rows*c+4*j+k]^bias)) * int32(x[4*c+k])
						}
					}
				}
				acc += float32(s) * (f16Table[le16(blk[2*j:])] * d[b])
			}
			out[i*stride+j] = acc
		}
	}
}
