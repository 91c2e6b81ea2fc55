package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// halfVec returns n random values rounded to half floats, as half-float
// bits and as their exact float32 values.
func halfVec(r *rand.Rand, n int) ([]uint16, []float32) {
	h, f := make([]uint16, n), make([]float32, n)
	for i := range h {
		h[i] = F32ToF16(float32(r.NormFloat64()))
		f[i] = F16ToF32(h[i])
	}
	return h, f
}

// TestDotRowsHalf: at every level, DotRowsHalf gives the bits DotRows
// gives over the converted rows (and so those of the matrix product's F32
// kernel, which attention's prompt path runs over the same keys); the
// assembly levels agree with the portable code within rounding.
func TestDotRowsHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, width := range []int{1, 7, 8, 13, 16, 24, 40, 64, 72, 128} {
		for _, n := range []int{1, 3, 4, 9, 16} {
			for _, stride := range []int{width, width + 5} {
				h, f := halfVec(r, n*stride)
				x := randVec(r, width, 1)
				var portable []float32
				for _, l := range levels() {
					withLevel(l, func() {
						got, want := make([]float32, n), make([]float32, n)
						DotRowsHalf(got, h, stride, x)
						DotRows(want, f, stride, x)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s width %d stride %d: row %d = %g, DotRows %g", l, width, stride, i, got[i], want[i])
							}
						}
						if l == Portable {
							portable = got
							return
						}
						for i := range got {
							var mag float64
							for c := range width {
								mag += math.Abs(float64(f[i*stride+c]) * float64(x[c]))
							}
							if d := math.Abs(float64(got[i]) - float64(portable[i])); d > 1e-6*mag {
								t.Fatalf("%s width %d: row %d = %g, portable %g", l, width, i, got[i], portable[i])
							}
						}
					})
				}
			}
		}
	}
	out := []float32{7}
	DotRowsHalf(out, make([]uint16, 3), 4, make([]float32, 4)) // rows too short
	if out[0] != 7 {
		t.Errorf("short rows: wrote %g", out[0])
	}
}

// TestWeightedSumHalf: at every level, WeightedSumHalf gives the bits of
// WeightedSum over the converted rows, at once or a page at a time, and
// agrees with the portable code within rounding.
func TestWeightedSumHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, width := range []int{1, 7, 8, 16, 40, 64, 72, 136, 200} {
		for _, rows := range []int{1, 5, 16, 33} {
			stride := width + 3
			a := randVec(r, rows, 1)
			h, f := halfVec(r, rows*stride)
			init := randVec(r, width, 1)
			var portable []float32
			for _, l := range levels() {
				withLevel(l, func() {
					got, want, paged := clone(init), clone(init), clone(init)
					WeightedSumHalf(got, a, h, stride)
					WeightedSum(want, a, f, stride)
					for lo := 0; lo < rows; lo += 16 {
						hi := min(rows, lo+16)
						WeightedSumHalf(paged, a[lo:hi], h[lo*stride:], stride)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(paged[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s width %d, %d rows: out[%d] = %g (in pages %g), WeightedSum %g", l, width, rows, i, got[i], paged[i], want[i])
						}
					}
					if l == Portable {
						portable = got
						return
					}
					for i := range got {
						mag := math.Abs(float64(init[i]))
						for p := range rows {
							mag += math.Abs(float64(a[p]) * float64(f[p*stride+i]))
						}
						if d := math.Abs(float64(got[i]) - float64(portable[i])); d > 1e-6*mag {
							t.Fatalf("%s width %d: out[%d] = %g, portable %g", l, width, i, got[i], portable[i])
						}
					}
				})
			}
		}
	}
	out := []float32{7}
	WeightedSumHalf(out, []float32{1, 1}, make([]uint16, 1), 1) // v too short
	if out[0] != 7 {
		t.Errorf("short rows: wrote %g", out[0])
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// TestHalfMulti: at every level, DotRowsHalfMulti and WeightedSumHalfMulti
// give every query or head the bits of its own DotRowsHalf or
// WeightedSumHalf (grouped-query attention takes a KV head's group at
// once, a token's bits must not depend on it), for group sizes around the
// four the assembly takes and rows and widths around its multiples.
func TestHalfMulti(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, width := range []int{8, 16, 24, 64, 72, 128} {
		for _, nq := range []int{1, 3, 4, 5, 8} {
			for _, n := range []int{1, 3, 4, 7, 16} {
				stride := width + 8
				h, _ := halfVec(r, n*stride)
				xs := randVec(r, nq*width, 1)
				os := n + 3
				a := randVec(r, nq*os, 1)
				init := randVec(r, nq*width, 1)
				for _, l := range levels() {
					withLevel(l, func() {
						got := make([]float32, nq*os)
						DotRowsHalfMulti(got, os, n, h, stride, xs, width)
						sums := clone(init)
						WeightedSumHalfMulti(sums, width, a, os, n, h, stride)
						for g := range nq {
							want := make([]float32, n)
							DotRowsHalf(want, h, stride, xs[g*width:(g+1)*width])
							for i := range n {
								if math.Float32bits(got[g*os+i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s width %d, %d queries, %d rows: query %d row %d = %g, alone %g", l, width, nq, n, g, i, got[g*os+i], want[i])
								}
							}
							ws := clone(init[g*width : (g+1)*width])
							WeightedSumHalf(ws, a[g*os:g*os+n], h, stride)
							for i := range ws {
								if math.Float32bits(sums[g*width+i]) != math.Float32bits(ws[i]) {
									t.Fatalf("%s width %d, %d heads, %d rows: head %d out[%d] = %g, alone %g", l, width, nq, n, g, i, sums[g*width+i], ws[i])
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestToHalf: at every level ToHalf gives F32ToF16's bits, NaNs,
// infinities, overflow, subnormals and rounding ties included, for lengths
// around the assembly's 8 values.
func TestToHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	special := []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.99, 65520, -65520, 1e-8, -3e-8, 5.96e-8, 2.98e-8, 6.1e-5, 6.09e-5,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00123),
		math.Float32frombits(0x7fbfffff), 1 + 1.0/2048, 1 + 3.0/2048, 1e10, -1e-45}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 64} {
		src := make([]float32, n)
		for i := range src {
			switch i % 3 {
			case 0:
				src[i] = special[r.IntN(len(special))]
			case 1:
				src[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25)))
			default:
				src[i] = math.Float32frombits(r.Uint32())
			}
		}
		for _, l := range levels() {
			withLevel(l, func() {
				dst := make([]uint16, n+1)
				ToHalf(dst, src)
				for i, x := range src {
					if want := F32ToF16(x); dst[i] != want {
						t.Fatalf("%s n=%d: %g (%#08x) = %#04x, F32ToF16 %#04x", l, n, x, math.Float32bits(x), dst[i], want)
					}
				}
				if dst[n] != 0 {
					t.Fatalf("%s n=%d: wrote past the values", l, n)
				}
			})
		}
	}
}
