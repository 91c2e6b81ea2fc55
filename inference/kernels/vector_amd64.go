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
func streamSumAVX2(p *byte, n int) uint64

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
