package kernels

import (
	"encoding/binary"
	"runtime"
	"sync"
)

// Interleaved layout of Q4_0 and Q8_0 weights. Rows are taken in groups of
// eight; for each block of 32 columns a group stores the eight f16 scales
// (16 bytes) and then the quant bytes in 4-byte pieces, piece c of row j at
// 16+32c+4j. A group block is the same size as eight plain blocks, so rows
// after the last full group keep their plain place. The kernels load one
// piece of all eight rows at once and keep row j in vector lane j, which
// saves the horizontal sums and per-row scale conversions of the plain
// layout. For Q4_0 a piece's low nibbles are columns 4c..4c+3 and its high
// nibbles columns 16+4c..16+4c+3; for Q8_0 piece c is columns 4c..4c+3.

// Repack returns a copy of m with its rows interleaved in groups of eight
// when the assembly kernels are in use and have an interleaved form for
// the type (Q4_0, Q8_0); otherwise it returns m unchanged. The copy costs
// as much memory as the weights (the mapped file's pages can then be
// dropped by the kernel) and one pass over them.
func Repack(m Matrix) Matrix {
	if !accel || m.groups > 0 || m.Rows < 8 || (m.Type != Q4_0 && m.Type != Q8_0) {
		return m
	}
	bb := m.Type.BlockBytes()
	pieces := (bb - 2) / 4
	nb := m.Cols / qk0
	g := m.Rows / 8
	data := make([]byte, len(m.Data))
	// A one-off pass at load: spread it over the cores.
	workers := min(runtime.GOMAXPROCS(0), g)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for gi := w * g / workers; gi < (w+1)*g/workers; gi++ {
				for b := range nb {
					dst := data[(gi*nb+b)*8*bb : (gi*nb+b+1)*8*bb]
					for j := range 8 {
						src := m.Data[(gi*8+j)*m.rowBytes+b*bb : (gi*8+j)*m.rowBytes+(b+1)*bb]
						dst[2*j], dst[2*j+1] = src[0], src[1]
						for c := range pieces {
							binary.LittleEndian.PutUint32(dst[16+32*c+4*j:], binary.LittleEndian.Uint32(src[2+4*c:]))
						}
					}
				}
			}
		})
	}
	wg.Wait()
	copy(data[g*8*m.rowBytes:], m.Data[g*8*m.rowBytes:])
	m.Data, m.groups = data, g
	return m
}

// groupBlock returns block b of the group holding row r and r's place in it.
func (m *Matrix) groupBlock(r, b int) ([]byte, int) {
	bb := m.Type.BlockBytes()
	nb := m.Cols / qk0
	off := ((r/8)*nb + b) * 8 * bb
	return m.Data[off : off+8*bb], r % 8
}

func (m *Matrix) dequantGroupRow(dst []float32, r int) {
	for b := range m.Cols / qk0 {
		blk, j := m.groupBlock(r, b)
		d := f16Table[le16(blk[2*j:])]
		y := dst[b*qk0 : (b+1)*qk0]
		if m.Type == Q4_0 {
			for c := range 4 {
				for k := range 4 {
					v := blk[16+32*c+4*j+k]
					y[4*c+k] = d * float32(int(v&0xf)-8)
					y[16+4*c+k] = d * float32(int(v>>4)-8)
				}
			}
			continue
		}
		for c := range 8 {
			for k := range 4 {
				y[4*c+k] = d * float32(int8(blk[16+32*c+4*j+k]))
			}
		}
	}
}

// groupDotGo is the portable product of an interleaved group g (all its
// blocks) with activation row t, into out[0:8]; the arithmetic is that of
// dotQ4_0Go and dotQ8_0Go.
func groupDotGo(ty Type, g []byte, a *Activations, t int, out []float32) {
	q, d := a.q8Row(t)
	bb := ty.BlockBytes()
	var acc [8]float32
	for b := range d {
		blk := g[b*8*bb : (b+1)*8*bb]
		x := q[b*qk0 : (b+1)*qk0]
		for j := range 8 {
			var s int32
			if ty == Q4_0 {
				for c := range 4 {
					for k := range 4 {
						v := blk[16+32*c+4*j+k]
						s += (int32(v&0xf)-8)*int32(x[4*c+k]) + (int32(v>>4)-8)*int32(x[16+4*c+k])
					}
				}
			} else {
				for c := range 8 {
					for k := range 4 {
						s += int32(int8(blk[16+32*c+4*j+k])) * int32(x[4*c+k])
					}
				}
			}
			acc[j] += float32(s) * (f16Table[le16(blk[2*j:])] * d[b])
		}
	}
	copy(out[:8], acc[:])
}
