package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// minTermFix is what TestMatMul's reference must add for Q4_1 and Q5_1
// row r: ggml multiplies each block's min m by Q8_1's s (d·Σq rounded to
// f16), where the dequantised product has m·Σ(d_a·q_a). It returns the
// correction and its magnitude.
func minTermFix(m *Matrix, r int, acts []float64, s []float32) (fix, mag float64) {
	row := m.row(r)
	bb := m.Type.BlockBytes()
	for b := range s {
		mn := float64(F16ToF32(le16(row[b*bb+2:])))
		var sum float64
		for _, v := range acts[b*qk0 : (b+1)*qk0] {
			sum += v
		}
		fix += mn * (float64(s[b]) - sum)
		mag += math.Abs(mn * float64(s[b]))
	}
	return fix, mag
}

// legacyInts decodes block b of a row of t bit by bit (independently of
// the kernels' decoders): the integer values, the scale and the min (0 for
// the formats without one).
func legacyInts(t Type, blk []byte) (q [qk0]int, d, m float64) {
	d = float64(F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8))
	nib := func(off, i int) int { // value i's 4 low bits
		if i < 16 {
			return int(blk[off+i] & 15)
		}
		return int(blk[off+i-16] >> 4)
	}
	bit := func(off, i int) int { return int(blk[off+i/8]>>(i%8)) & 1 }
	for i := range qk0 {
		switch t {
		case Q4_1:
			q[i] = nib(4, i)
		case Q5_0:
			q[i] = nib(6, i) + 16*bit(2, i) - 16
		case Q5_1:
			q[i] = nib(8, i) + 16*bit(4, i)
		case IQ4_NL:
			q[i] = []int{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}[nib(2, i)]
		}
	}
	if t == Q4_1 || t == Q5_1 {
		m = float64(F16ToF32(uint16(blk[2]) | uint16(blk[3])<<8))
	}
	return q, d, m
}

// TestLegacyDot compares each legacy type's product, at every level and
// batch size, with ggml's arithmetic done in float64: per block
// d_w·d_a·Σ(q_w·q_a) + m·s, with the activations quantised by refQ8 (and
// s = f16(max|x|/127 · Σq_a), Q8_1's block sum) and the weights decoded
// by legacyInts. The float32 kernels may differ only by their rounding.
func TestLegacyDot(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 50))
	p := NewPool(2)
	defer p.Close()
	for _, ty := range []Type{Q4_1, Q5_0, Q5_1, IQ4_NL} {
		for _, blocks := range []int{1, 5, 24} {
			cols, rows, n := blocks*qk0, 9, 5
			if blocks > 1 {
				rows = 40 // whole and partial interleaved groups
			}
			m := randMatrix(t, r, ty, rows, cols)
			x := randVec(r, n*cols, 2)
			x[3] = 0 // a zero and an all-zero block
			for i := range min(qk0, cols) {
				x[cols+i] = 0
			}
			ref := make([]float64, n*rows)
			mag := make([]float64, n*rows)
			for tok := range n {
				for b := range blocks {
					xb := x[tok*cols+b*qk0 : tok*cols+(b+1)*qk0]
					qa, da, sa := refQ8(xb)
					var amax float32
					for _, v := range xb {
						amax = max(amax, float32(math.Abs(float64(v))))
					}
					s := float64(F16ToF32(F32ToF16(amax / 127 * float32(sa))))
					for row := range rows {
						bb := ty.BlockBytes()
						qw, dw, mw := legacyInts(ty, m.Data[row*m.RowBytes()+b*bb:][:bb])
						var is, isa int
						for i := range qk0 {
							is += qw[i] * int(qa[i])
							isa += abs(qw[i] * int(qa[i]))
						}
						// The assembly may scale partial sums of a
						// block (as ggml's does): the tolerance is on
						// the sum of the products' magnitudes.
						ref[tok*rows+row] += dw*float64(da)*float64(is) + mw*s
						mag[tok*rows+row] += math.Abs(dw*float64(da))*float64(isa) + math.Abs(mw*s)
					}
				}
			}
			for _, l := range levels() {
				withLevel(l, func() {
					// Repack widens them to Q8_0 for the assembly.
					for _, v := range []struct {
						name string
						m    Matrix
					}{{"plain", m}, {"repacked", Repack(m)}} {
						for _, batch := range []int{1, n} {
							t.Run(fmt.Sprintf("%s/%s/%s/cols=%d/n=%d", l, ty, v.name, cols, batch), func(t *testing.T) {
								if widened := v.m.Type == Q8_0; widened != (v.name == "repacked" && l >= AVX2) {
									t.Fatalf("%s matrix is %s", v.name, v.m.Type)
								}
								got := make([]float32, n*rows)
								for tok := 0; tok < n; tok += batch {
									if err := p.MatMul(got[tok*rows:(tok+batch)*rows], &v.m, x[tok*cols:(tok+batch)*cols], batch); err != nil {
										t.Fatal(err)
									}
								}
								for i := range ref {
									if d := math.Abs(float64(got[i]) - ref[i]); d > 2e-6*mag[i]+1e-30 {
										t.Fatalf("output %d = %g, ggml's arithmetic %g (|terms| %g)", i, got[i], ref[i], mag[i])
									}
								}
							})
						}
					}
				})
			}
		}
	}
}

// TestLegacyQuantize checks the quantisers against ggml's reference rules
// on blocks with known answers.
func TestLegacyQuantize(t *testing.T) {
	ramp := make([]float32, qk0) // -1 .. 1 in 31 equal steps
	for i := range ramp {
		ramp[i] = -1 + 2*float32(i)/31
	}
	tests := []struct {
		ty   Type
		x    []float32
		want []int // the integer values legacyInts decodes
		d, m float32
	}{
		// Q5_1: min -1, d 2/31; value i is exactly i.
		{Q5_1, ramp, seq(0, 32), 2.0 / 31, -1},
		// Q4_1: d 2/15; (x+1)·15/2 + 0.5 truncated.
		{Q4_1, ramp, func() []int {
			out := make([]int, qk0)
			for i, v := range ramp {
				out[i] = min(15, int(float32(float32((v+1)*float32(1/float32(2.0/15)))+0.5)))
			}
			return out
		}(), 2.0 / 15, -1},
		// Q5_0: the first value of largest magnitude (-1) maps to -16:
		// d = 1/16, and 1 clamps to 15.
		{Q5_0, ramp, func() []int {
			out := make([]int, qk0)
			for i, v := range ramp {
				out[i] = min(31, int(float32(v*16)+16.5)) - 16
			}
			return out
		}(), 1.0 / 16, 0},
	}
	for _, tt := range tests {
		t.Run(tt.ty.String(), func(t *testing.T) {
			enc := make([]byte, tt.ty.BlockBytes())
			if err := Quantize(tt.ty, enc, tt.x); err != nil {
				t.Fatal(err)
			}
			q, d, m := legacyInts(tt.ty, enc)
			if d != float64(F16ToF32(F32ToF16(tt.d))) || m != float64(F16ToF32(F32ToF16(tt.m))) {
				t.Errorf("d, m = %g, %g; want %g, %g (as f16)", d, m, tt.d, tt.m)
			}
			for i := range q {
				if q[i] != tt.want[i] {
					t.Fatalf("value %d (x %g) = %d, want %d", i, tt.x[i], q[i], tt.want[i])
				}
			}
		})
	}
	// IQ4_NL: a block that is d times code book values comes back exactly.
	x := make([]float32, qk0)
	for i := range x {
		x[i] = 0.01 * float32(iq4NLValues[(i*7)%16])
	}
	enc := make([]byte, iq4NLBytes)
	if err := Quantize(IQ4_NL, enc, x); err != nil {
		t.Fatal(err)
	}
	q, d, _ := legacyInts(IQ4_NL, enc)
	for i := range q {
		if got := d * float64(q[i]); math.Abs(got-float64(x[i])) > 1e-3*math.Abs(float64(x[i]))+1e-6 {
			t.Fatalf("IQ4_NL value %d = %g, want %g", i, got, x[i])
		}
	}
}

func abs(x int) int { return max(x, -x) }

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
