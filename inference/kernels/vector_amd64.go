//go:build amd64

package kernels

import "unsafe"

// Vector operations (vector_amd64.s).

//go:noescape
func wsum4AVX2(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func wsum1AVX2(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func wsum4AVX512(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func wsum1AVX512(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func wsumRows4x64AVX512(out *float32, os int, a *float32, as int, v *float32, vs int, np int)

//go:noescape
func wsumRows2x32AVX2(out *float32, os int, a *float32, as int, v *float32, vs int, np int)

//go:noescape
func prefetchT0(p *byte, n int)

// prefetch asks for the bytes of b to be brought into the cache.
func prefetch(b []byte) {
	if len(b) > 0 && accel {
		prefetchT0(&b[0], len(b))
	}
}

//go:noescape
func streamSumAVX2(p *byte, n int) uint64

//go:noescape
func expSubAVX2(x *float32, n int, m float32)

//go:noescape
func siluMulAVX2(gate *float32, up *float32, n int)

//go:noescape
func expSubAVX512(x *float32, n int, m float32)

//go:noescape
func siluMulAVX512(gate *float32, up *float32, n int)

//go:noescape
func maxAVX2(x *float32, n int) (m float32, nan bool)

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

// installVector sets the fast versions of ops.go's operations for level
// l; Dot uses the F32 product kernel (float_amd64.s), so attention scores
// get the bits of an F32 matrix product. Every width of the weighted sum
// does one multiply-add per output and row, in row order: the same bits.
func installVector(l Level) {
	wide := l >= AVX512
	weightedSumFast = func(out, a, v []float32, stride int) {
		n := len(out) &^ 7
		c := 0
		if wide {
			for ; c+64 <= n; c += 64 {
				wsum4AVX512(&out[c], &a[0], &v[c], 4*stride, len(a))
			}
			for ; c+16 <= n; c += 16 {
				wsum1AVX512(&out[c], &a[0], &v[c], 4*stride, len(a))
			}
		}
		for ; c+32 <= n; c += 32 {
			wsum4AVX2(&out[c], &a[0], &v[c], 4*stride, len(a))
		}
		for ; c < n; c += 8 {
			wsum1AVX2(&out[c], &a[0], &v[c], 4*stride, len(a))
		}
		if n < len(out) {
			weightedSumGo(out[n:], a, v[n:], stride)
		}
	}
	// Several output rows over shared value rows: 4 rows × 64 columns
	// (AVX-512) or 2 × 32 (AVX2) per pass, the multiply-adds of wsum4.
	cols := 32
	weightedSumsGroup = 2
	if wide {
		weightedSumsGroup, cols = 4, 64
	}
	weightedSumsRows = func(out []float32, os, width int, a []float32, as int, v []float32, stride, m int) int {
		done := width / cols * cols
		g := weightedSumsGroup
		if done == 0 {
			return 0
		}
		// Bounds for the assembly: the last row's last column and value.
		_, _, _ = out[(g-1)*os+done-1], a[(g-1)*as+m-1], v[(m-1)*stride+done-1]
		for c := 0; c < done; c += cols {
			if wide {
				wsumRows4x64AVX512(&out[c], 4*os, &a[0], 4*as, &v[c], 4*stride, m)
			} else {
				wsumRows2x32AVX2(&out[c], 4*os, &a[0], 4*as, &v[c], 4*stride, m)
			}
		}
		return done
	}
	// Exp's arithmetic in float64 lanes, without fused multiply-adds: the
	// bits of Exp, whatever the level.
	expSubFast = func(x []float32, m float32) {
		n := 0
		if wide {
			if n = len(x) &^ 15; n > 0 {
				expSubAVX512(&x[0], n, m)
			}
		}
		if n8 := len(x) &^ 7; n8 > n {
			expSubAVX2(&x[n], n8-n, m)
			n = n8
		}
		for i := n; i < len(x); i++ {
			x[i] = Exp(x[i] - m)
		}
	}
	softmaxFast = func(x []float32) {
		n := len(x) &^ 7
		if n == 0 {
			softmaxGo(x)
			return
		}
		m, nan := maxAVX2(&x[0], n)
		if nan {
			softmaxGo(x)
			return
		}
		for _, v := range x[n:] {
			m = max(m, v)
		}
		inv := 1 / expSub(x, m)
		scaleAVX2(&x[0], n, inv)
		for i := n; i < len(x); i++ {
			x[i] *= inv
		}
	}
	siluMulFast = func(gate, up []float32) {
		n := 0
		if wide {
			if n = len(gate) &^ 15; n > 0 {
				siluMulAVX512(&gate[0], &up[0], n)
			}
		}
		if n8 := len(gate) &^ 7; n8 > n {
			siluMulAVX2(&gate[n], &up[n], n8-n)
			n = n8
		}
		siluMulGo(gate[n:], up[n:])
	}
	scaleFast = func(x []float32, s float32) { scaleAVX2(&x[0], len(x), s) }
	dotFast = func(x, y []float32) float32 {
		n := len(x) &^ 7
		var s float32
		if n > 0 {
			s = dotF32AVX2((*byte)(unsafe.Pointer(&x[0])), &y[0], n)
		}
		for i := n; i < len(x); i++ {
			s += x[i] * y[i]
		}
		return s
	}
}

// streamSum reads all of p; it returns a value only so the reads happen.
func streamSum(p []byte) uint64 {
	n := len(p) &^ 127
	if n == 0 || !cpuHasAccel() {
		return streamSumGo(p)
	}
	return streamSumAVX2(&p[0], n) + streamSumGo(p[n:])
}
