//go:build amd64

package kernels

import "unsafe"

// Float weights times float32 activations (float_amd64.s).

//go:noescape
func dotF32AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dot4F32AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)

//go:noescape
func dot4F16AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)

//go:noescape
func dot4BF16AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)

//go:noescape
func tile34F32AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)

//go:noescape
func tile34F16AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)

//go:noescape
func tile34BF16AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)

//go:noescape
func tile34RunF32AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int, tri int)

// tile34RunF32 wraps a tile34RunF32 kernel (tile34Fn's checks, once for
// the run).
func tile34RunF32(run func(w *byte, rb int, x *float32, xs int, n int, out *float32, os int, tri int)) func([]byte, int, int, *Activations, int, []float32, int) {
	return func(w []byte, rb, tri int, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		x := a.x[t*c : (t+4)*c]
		_ = w[3*tri*rb-1]
		_ = out[3*stride+3*tri-1]
		run(&w[0], rb, &x[0], 4*c, c, &out[0], 4*stride, tri)
	}
}

//go:noescape
func rows4F32AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func rows4F16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func rows4BF16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func toHalfAVX2(dst *uint16, src *float32, n int)

//go:noescape
func roundF16AVX2(dst *float32, src *float32, n int)

//go:noescape
func roundBF16AVX2(dst *float32, src *float32, n int)

// floatAsm is one float type's assembly and the per-element decoder that
// finishes the columns after the last multiple of 8. The kernels that
// write a local result array are called directly (dot4, rows4 below), not
// through a func value, so that the array stays on the stack.
type floatAsm struct {
	ty     Type
	act    actFormat
	size   int // bytes per weight
	decode func([]byte) float32
	dot    func(w *byte, x *float32, n int) float32
	tile34 func(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
	wide   bool // F32 with the AVX-512 kernels (float512_amd64.s)
}

func decF32(b []byte) float32  { return asF32(b[:4])[0] }
func decF16(b []byte) float32  { return f16Table[le16(b)] }
func decBF16(b []byte) float32 { return BF16ToF32(le16(b)) }

func installFloat(s *kernelSet) {
	for _, f := range []floatAsm{
		{F32, actF32, 4, decF32, dotF32AVX2, tile34F32AVX2, false},
		{F16, actF16, 2, decF16, dotF16AVX2, tile34F16AVX2, false},
		{BF16, actBF16, 2, decBF16, dotBF16AVX2, tile34BF16AVX2, false},
	} {
		k := &s.types[f.ty]
		k.dot = f.dotFn()
		k.dot4 = f.dot4Fn()
		k.rows4 = f.rows4Fn()
		k.tile34 = f.tile34Fn()
	}
	s.types[F32].tile34Run = tile34RunF32(tile34RunF32AVX2)
	s.dotRows = dotRowsAVX2
	s.roundF16 = func(dst, src []float32) {
		n := len(dst) &^ 7
		if n > 0 {
			roundF16AVX2(&dst[0], &src[0], n)
		}
		roundF16Go(dst[n:], src[n:len(dst)])
	}
	s.roundBF16 = func(dst, src []float32) {
		n := len(dst) &^ 7
		if n > 0 {
			roundBF16AVX2(&dst[0], &src[0], n)
		}
		roundBF16Go(dst[n:], src[n:len(dst)])
	}
}

// dotFn wraps the 1-token kernel: the assembly takes multiples of 8, the
// tail is done here with the same per-element decoder.
func (f floatAsm) dotFn() func([]byte, *Activations, int) float32 {
	return func(w []byte, a *Activations, t int) float32 {
		x := a.floatRow(f.act, t)
		n := len(x) &^ 7
		var s float32
		if n > 0 {
			s = f.dot(&w[0], &x[0], n)
		}
		for i := n; i < len(x); i++ {
			s += f.decode(w[f.size*i:]) * x[i]
		}
		return s
	}
}

// dot4Fn wraps the 4-token kernel.
func (f floatAsm) dot4Fn() func([]byte, *Activations, int, []float32, int) {
	return func(w []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		x := a.floatRows(f.act)[t*c : (t+4)*c]
		n := c &^ 7
		var r [4]float32
		if n > 0 {
			switch {
			case f.wide:
				dot4F32AVX512(&w[0], &x[0], 4*c, n, &r)
			case f.ty == F32:
				dot4F32AVX2(&w[0], &x[0], 4*c, n, &r)
			case f.ty == F16:
				dot4F16AVX2(&w[0], &x[0], 4*c, n, &r)
			default:
				dot4BF16AVX2(&w[0], &x[0], 4*c, n, &r)
			}
		}
		for i := n; i < c; i++ {
			v := f.decode(w[f.size*i:])
			for j := range 4 {
				r[j] += v * x[j*c+i]
			}
		}
		store4(out, stride, &r)
	}
}

// rows4Fn wraps the 4-row kernel, finishing the tail as dotFn does.
func (f floatAsm) rows4Fn() func([]byte, int, *Activations, int, []float32) {
	return func(w []byte, rb int, a *Activations, t int, out []float32) {
		x := a.floatRow(f.act, t)
		n := len(x) &^ 7
		var r [4]float32
		if n > 0 {
			_ = w[3*rb+f.size*n-1]
			switch {
			case f.wide:
				rows4F32AVX512(&w[0], rb, &x[0], n, &r)
			case f.ty == F32:
				rows4F32AVX2(&w[0], rb, &x[0], n, &r)
			case f.ty == F16:
				rows4F16AVX2(&w[0], rb, &x[0], n, &r)
			default:
				rows4BF16AVX2(&w[0], rb, &x[0], n, &r)
			}
		}
		for i := n; i < len(x); i++ {
			for j := range 4 {
				r[j] += f.decode(w[j*rb+f.size*i:]) * x[i]
			}
		}
		copy(out[:4], r[:])
	}
}

// tile34Fn wraps the 3-row × 4-token tile, which needs a row length that
// is a multiple of 8.
func (f floatAsm) tile34Fn() func([]byte, int, *Activations, int, []float32, int) {
	return func(w []byte, rb int, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		x := a.floatRows(f.act)[t*c : (t+4)*c]
		_ = w[3*rb-1]
		_ = out[3*stride+2]
		f.tile34(&w[0], rb, &x[0], 4*c, c, &out[0], 4*stride)
	}
}

// dotRowsAVX2 runs the F32 4-row kernel, whose results have the bits of
// dotF32AVX2 (one tree), finishing columns past the last multiple of 8 as
// Dot does.
func dotRowsAVX2(out, rows []float32, stride int, x []float32) {
	n := len(x) &^ 7
	i := 0
	if n > 0 {
		var r [4]float32
		for ; i+4 <= len(out); i += 4 {
			_ = rows[(i+3)*stride+len(x)-1]
			rows4F32AVX2((*byte)(unsafe.Pointer(&rows[i*stride])), 4*stride, &x[0], n, &r)
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
