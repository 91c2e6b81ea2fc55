//go:build amd64

package kernels

import "unsafe"

// Attention over half-float rows (halfrows_amd64.s). The AVX2 level reuses
// the F16 weight kernels of float_amd64.s, which are the F32 ones with a
// converting load; the AVX-512 level has its own, the sixteen-lane F32
// kernels of float512_amd64.s with a converting load.

//go:noescape
func dotH16AVX512(w *uint16, x *float32, n int) float32

//go:noescape
func rowsH16AVX512(w *uint16, rb int, x *float32, n int, out *float32, rows int)

//go:noescape
func wsum4H16AVX2(out *float32, a *float32, v *uint16, vs int, np int)

//go:noescape
func wsum1H16AVX2(out *float32, a *float32, v *uint16, vs int, np int)

//go:noescape
func wsum4H16AVX512(out *float32, a *float32, v *uint16, vs int, np int)

//go:noescape
func wsum1H16AVX512(out *float32, a *float32, v *uint16, vs int, np int)

//go:noescape
func rows4x4qH16AVX512(w *uint16, rb int, x *float32, xs int, n int, out *float32, os int, rows int)

//go:noescape
func wsum4x4qH16AVX512(out *float32, os int, a *float32, as int, v *uint16, vs int, np int)

// installHalfRows sets DotRowsHalf's and WeightedSumHalf's fast versions
// for level l (installOps).
func installHalfRows(l Level) {
	wide := l >= AVX512
	dotRowsHalfMultiFast, weightedSumHalfMultiFast = nil, nil
	if wide {
		// Four queries: out[g*os+r] for r < n (a multiple of 4), widths a
		// multiple of 16.
		dotRowsHalfMultiFast = func(out []float32, os, n int, rows []uint16, stride int, xs []float32, width int) {
			_ = rows[(n-1)*stride+width-1]
			_ = out[3*os+n-1]
			_ = xs[4*width-1]
			rows4x4qH16AVX512(&rows[0], 2*stride, &xs[0], 4*width, width, &out[0], 4*os, n)
		}
		// Four heads, widths a multiple of 64: 64 columns at a time.
		weightedSumHalfMultiFast = func(out []float32, width int, a []float32, as, n int, v []uint16, stride int) {
			_ = out[4*width-1]
			_ = a[3*as+n-1]
			_ = v[(n-1)*stride+width-1]
			for c := 0; c < width; c += 64 {
				wsum4x4qH16AVX512(&out[c], 4*width, &a[0], 4*as, &v[c], 2*stride, n)
			}
		}
	}
	dotRowsHalfFast = func(out []float32, rows []uint16, stride int, x []float32) {
		dotRowsHalfAsm(out, rows, stride, x, wide)
	}
	weightedSumHalfFast = func(out, a []float32, v []uint16, stride int) {
		n := len(out) &^ 7
		c := 0
		if wide {
			for ; c+64 <= n; c += 64 {
				wsum4H16AVX512(&out[c], &a[0], &v[c], 2*stride, len(a))
			}
			for ; c+16 <= n; c += 16 {
				wsum1H16AVX512(&out[c], &a[0], &v[c], 2*stride, len(a))
			}
		}
		for ; c+32 <= n; c += 32 {
			wsum4H16AVX2(&out[c], &a[0], &v[c], 2*stride, len(a))
		}
		for ; c < n; c += 8 {
			wsum1H16AVX2(&out[c], &a[0], &v[c], 2*stride, len(a))
		}
		if n < len(out) {
			weightedSumHalfGo(out[n:], a, v[n:], stride)
		}
	}
}

// dotRowsHalfAsm is dotRowsAVX2 (or dotRowsAVX512 when wide) over half
// floats: four rows at a time (at AVX-512 every such row of the call in
// one assembly call), the columns past the last multiple of 8 and the
// last rows finished as Dot does.
func dotRowsHalfAsm(out []float32, rows []uint16, stride int, x []float32, wide bool) {
	n := len(x) &^ 7
	i := 0
	if n > 0 {
		four := len(out) &^ 3
		if wide && four > 0 {
			_ = rows[(four-1)*stride+len(x)-1]
			rowsH16AVX512(&rows[0], 2*stride, &x[0], n, &out[0], four)
			i = four
		} else {
			var r [4]float32
			for ; i+4 <= len(out); i += 4 {
				_ = rows[(i+3)*stride+len(x)-1]
				rows4F16AVX2(halfBytes(&rows[i*stride]), 2*stride, &x[0], n, &r)
				copy(out[i:i+4], r[:])
			}
		}
		if n < len(x) {
			for j := range i {
				s := out[j]
				row := rows[j*stride:]
				for c := n; c < len(x); c++ {
					s += F16ToF32(row[c]) * x[c]
				}
				out[j] = s
			}
		}
	}
	for ; i < len(out); i++ {
		row := rows[i*stride : i*stride+len(x)]
		var s float32
		if n > 0 {
			if wide {
				s = dotH16AVX512(&row[0], &x[0], n)
			} else {
				s = dotF16AVX2(halfBytes(&row[0]), &x[0], n)
			}
		}
		for c := n; c < len(x); c++ {
			s += F16ToF32(row[c]) * x[c]
		}
		out[i] = s
	}
}

// halfBytes views half floats as the bytes the F16 weight kernels take.
func halfBytes(p *uint16) *byte { return (*byte)(unsafe.Pointer(p)) }
