//go:build amd64

package kernels

import "unsafe"

// F32 weights times float32 activations, AVX-512 (float512_amd64.s).

//go:noescape
func dotF32AVX512(w *byte, x *float32, n int) float32

//go:noescape
func dot4F32AVX512(w *byte, x *float32, xs int, n int, out *[4]float32)

//go:noescape
func rows4F32AVX512(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func tile34F32AVX512(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)

//go:noescape
func tile34RunF32AVX512(w *byte, rb int, x *float32, xs int, n int, out *float32, os int, tri int)

// installFloat512 replaces the F32 kernels, Dot and DotRows with the
// sixteen-lane ones, which give each other's bits (not the AVX2 ones').
func installFloat512(s *kernelSet) {
	f := floatAsm{F32, actF32, 4, decF32, dotF32AVX512, tile34F32AVX512, true}
	k := &s.types[F32]
	k.dot = f.dotFn()
	k.dot4 = f.dot4Fn()
	k.rows4 = f.rows4Fn()
	k.tile34 = f.tile34Fn()
	k.tile34Run = tile34RunF32(tile34RunF32AVX512)
	s.dotRows = dotRowsAVX512
}

// dotAVX512 is Dot with the sixteen-lane F32 kernel (installOps).
func dotAVX512(x, y []float32) float32 {
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = dotF32AVX512((*byte)(unsafe.Pointer(&x[0])), &y[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

// dotRowsAVX512 is dotRowsAVX2 with the sixteen-lane kernels.
func dotRowsAVX512(out, rows []float32, stride int, x []float32) {
	n := len(x) &^ 7
	i := 0
	if n > 0 {
		var r [4]float32
		for ; i+4 <= len(out); i += 4 {
			_ = rows[(i+3)*stride+len(x)-1]
			rows4F32AVX512((*byte)(unsafe.Pointer(&rows[i*stride])), 4*stride, &x[0], n, &r)
			for j := range 4 {
				s := r[j]
				row := rows[(i+j)*stride:]
				for c := n; c < len(x); c++ {
					s += row[c] * x[c]
				}
				out[i+j] = s
			}
		}
	}
	for ; i < len(out); i++ {
		out[i] = Dot(rows[i*stride:i*stride+len(x)], x)
	}
}
