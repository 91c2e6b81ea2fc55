//go:build amd64

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (kernels_amd64.s). Lengths are trusted: the wrappers
// below pass slices whose sizes Matrix and Activations have checked.

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
func rows4F32AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func rows4F16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func rows4BF16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func rows4Q8_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)

//go:noescape
func rows4Q4_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)

//go:noescape
func dotQ8_0AVX2(w *byte, x *int8, d *float32, nb int) float32

//go:noescape
func dotQ4_0AVX2(w *byte, x *int8, d *float32, nb int) float32

//go:noescape
func dot4Q8_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)

//go:noescape
func dot4Q4_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)

//go:noescape
func dotQ4KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dot4Q4KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func dot4Q6KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func dotQ5KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dotQ6KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func quantQ8AVX2(q *int8, d *float32, m *float32, x *float32, nb int)

//go:noescape
func q40x8AVX2(w *byte, x *int8, d *float32, m *float32, nb int, out *float32)

//go:noescape
func q40x8x4AVX2(w *byte, x *int8, xs int, d *float32, m *float32, ds int, nb int, out *float32, os int)

//go:noescape
func q80x8AVX2(w *byte, x *int8, d *float32, nb int, out *float32)

//go:noescape
func q80x8x4AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *float32, os int)

//go:noescape
func quantQ8KAVX2(q *int8, d *float32, s *int16, x *float32, nb int)

//go:noescape
func wsum4AVX2(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func wsum1AVX2(out *float32, a *float32, v *float32, vs int, np int)

//go:noescape
func siluMulAVX2(gate *float32, u *float32, n int)

//go:noescape
func expSubAVX2(x *float32, m float32, n int) float32

//go:noescape
func streamSumAVX2(p *byte, n int) uint64

func cpuHasAccel() bool {
	return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
}

// floatDot wraps a float kernel: the assembly takes multiples of 8, the
// tail is done here with the same per-element decoder.
func floatDot(asm func(*byte, *float32, int) float32, size int, decode func([]byte) float32) func([]byte, *Activations, int) float32 {
	return func(w []byte, a *Activations, t int) float32 {
		x := a.f32Row(t)
		n := len(x) &^ 7
		var s float32
		if n > 0 {
			s = asm(&w[0], &x[0], n)
		}
		for i := n; i < len(x); i++ {
			s += decode(w[size*i:]) * x[i]
		}
		return s
	}
}

// floatDot4 wraps the 4-token float kernels. The assembly is called
// directly, not through a func value, so that r stays on the stack.
func floatDot4(ty Type, size int, decode func([]byte) float32) func([]byte, *Activations, int, []float32, int) {
	return func(w []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		x := a.x[t*c : (t+4)*c]
		n := c &^ 7
		var r [4]float32
		if n > 0 {
			switch ty {
			case F32:
				dot4F32AVX2(&w[0], &x[0], 4*c, n, &r)
			case F16:
				dot4F16AVX2(&w[0], &x[0], 4*c, n, &r)
			default:
				dot4BF16AVX2(&w[0], &x[0], 4*c, n, &r)
			}
		}
		for i := n; i < c; i++ {
			v := decode(w[size*i:])
			for j := range 4 {
				r[j] += v * x[j*c+i]
			}
		}
		store4(out, stride, &r)
	}
}

// floatRows4 wraps the 4-row float kernels, finishing the tail as floatDot
// does.
func floatRows4(ty Type, size int, decode func([]byte) float32) func([]byte, int, *Activations, int, []float32) {
	return func(w []byte, rb int, a *Activations, t int, out []float32) {
		x := a.f32Row(t)
		n := len(x) &^ 7
		var r [4]float32
		if n > 0 {
			_ = w[3*rb+size*n-1]
			switch ty {
			case F32:
				rows4F32AVX2(&w[0], rb, &x[0], n, &r)
			case F16:
				rows4F16AVX2(&w[0], rb, &x[0], n, &r)
			default:
				rows4BF16AVX2(&w[0], rb, &x[0], n, &r)
			}
		}
		for i := n; i < len(x); i++ {
			for j := range 4 {
				r[j] += decode(w[j*rb+size*i:]) * x[i]
			}
		}
		copy(out[:4], r[:])
	}
}

func store4(out []float32, stride int, r *[4]float32) {
	_ = out[3*stride]
	out[0], out[stride], out[2*stride], out[3*stride] = r[0], r[1], r[2], r[3]
}

func decF32(b []byte) float32  { return asF32(b[:4])[0] }
func decF16(b []byte) float32  { return f16Table[le16(b)] }
func decBF16(b []byte) float32 { return BF16ToF32(le16(b)) }

func installAccel(k *[numTypes]kernel) {
	k[F32].dot = floatDot(dotF32AVX2, 4, decF32)
	k[F32].dot4 = floatDot4(F32, 4, decF32)
	k[F16].dot = floatDot(dotF16AVX2, 2, decF16)
	k[F16].dot4 = floatDot4(F16, 2, decF16)
	k[BF16].dot = floatDot(dotBF16AVX2, 2, decBF16)
	k[BF16].dot4 = floatDot4(BF16, 2, decBF16)

	k[F32].rows4 = floatRows4(F32, 4, decF32)
	k[F16].rows4 = floatRows4(F16, 2, decF16)
	k[BF16].rows4 = floatRows4(BF16, 2, decBF16)
	for _, q4 := range []bool{false, true} {
		ty := Q8_0
		if q4 {
			ty = Q4_0
		}
		k[ty].rows4 = func(w []byte, rb int, a *Activations, t int, out []float32) {
			q, d := a.q8Row(t)
			_ = w[4*rb-1]
			var r [4]float32
			if q4 {
				rows4Q4_0AVX2(&w[0], rb, &q[0], &d[0], len(d), &r)
			} else {
				rows4Q8_0AVX2(&w[0], rb, &q[0], &d[0], len(d), &r)
			}
			copy(out[:4], r[:])
		}
	}
	for _, ty := range []Type{F32, F16, BF16} {
		k[ty].tile34 = func(w []byte, rb int, a *Activations, t int, out []float32, stride int) {
			c := a.cols
			x := a.x[t*c : (t+4)*c]
			_ = w[3*rb-1]
			_ = out[3*stride+2]
			switch ty {
			case F32:
				tile34F32AVX2(&w[0], rb, &x[0], 4*c, c, &out[0], 4*stride)
			case F16:
				tile34F16AVX2(&w[0], rb, &x[0], 4*c, c, &out[0], 4*stride)
			default:
				tile34BF16AVX2(&w[0], rb, &x[0], 4*c, c, &out[0], 4*stride)
			}
		}
	}

	k[Q8_0].dot = func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ8_0AVX2(&w[0], &q[0], &d[0], len(d))
	}
	k[Q8_0].dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
		dotQ8x4(false, w, a, t, out, stride)
	}
	k[Q4_0].dot = func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ4_0AVX2(&w[0], &q[0], &d[0], len(d))
	}
	k[Q4_0].dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
		dotQ8x4(true, w, a, t, out, stride)
	}
	k[Q4_0].grp = func(g []byte, a *Activations, t int, out []float32) {
		q, d := a.q8Row(t)
		_ = out[7]
		q40x8AVX2(&g[0], &q[0], &d[0], &a.m8[t*len(d)], len(d), &out[0])
	}
	k[Q4_0].grp4 = func(g []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qk0
		_ = out[3*stride+7]
		q40x8x4AVX2(&g[0], &a.q8[t*c], c, &a.d8[t*nb], &a.m8[t*nb], 4*nb, nb, &out[0], 4*stride)
	}
	k[Q8_0].grp = func(g []byte, a *Activations, t int, out []float32) {
		q, d := a.q8Row(t)
		_ = out[7]
		q80x8AVX2(&g[0], &q[0], &d[0], len(d), &out[0])
	}
	k[Q8_0].grp4 = func(g []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qk0
		_ = out[3*stride+7]
		q80x8x4AVX2(&g[0], &a.q8[t*c], c, &a.d8[t*nb], 4*nb, nb, &out[0], 4*stride)
	}
	k[Q4_K].dot = func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ4KAVX2(&w[0], &q[0], &d[0], &s[0], len(d))
	}
	k[Q4_K].dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qkK
		var r [4]float32
		dot4Q4KAVX2(&w[0], &a.qk[t*c], c, &a.dk[t*nb], 4*nb, &a.sk[t*c/16], c/8, nb, &r)
		store4(out, stride, &r)
	}
	k[Q6_K].dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qkK
		var r [4]float32
		dot4Q6KAVX2(&w[0], &a.qk[t*c], c, &a.dk[t*nb], 4*nb, &a.sk[t*c/16], c/8, nb, &r)
		store4(out, stride, &r)
	}
	k[Q5_K].dot = func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ5KAVX2(&w[0], &q[0], &d[0], &s[0], len(d))
	}
	k[Q6_K].dot = func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ6KAVX2(&w[0], &q[0], &d[0], &s[0], len(d))
	}
	quantActQ8Fast = func(q []int8, d, m []float32, x []float32) {
		if len(d) > 0 {
			quantQ8AVX2(&q[0], &d[0], &m[0], &x[0], len(d))
		}
	}
	quantActQ8KFast = func(q []int8, d []float32, s []int16, x []float32) {
		if len(d) > 0 {
			quantQ8KAVX2(&q[0], &d[0], &s[0], &x[0], len(d))
		}
	}
	weightedSumFast = func(out, a, v []float32, stride int) {
		n := len(out) &^ 7
		c := 0
		for ; c+32 <= n; c += 32 {
			wsum4AVX2(&out[c], &a[0], &v[c], 4*stride, len(a))
		}
		for ; c < n; c += 8 {
			wsum1AVX2(&out[c], &a[0], &v[c], 4*stride, len(a))
		}
		weightedSumGo(out[n:], a, v[n:], stride)
	}
	siluMulFast = func(g, u []float32) {
		n := len(g) &^ 7
		if n > 0 {
			siluMulAVX2(&g[0], &u[0], n)
		}
		siluMulGo(g[n:], u[n:])
	}
	expSubFast = func(x []float32, m float32) float32 {
		n := len(x) &^ 7
		var s float32
		if n > 0 {
			s = expSubAVX2(&x[0], m, n)
		}
		return s + expSubGo(x[n:], m)
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

// dotQ8x4 runs a 4-token kernel over the Q8_0-style activation rows
// t..t+3.
func dotQ8x4(q4 bool, w []byte, a *Activations, t int, out []float32, stride int) {
	c := a.cols
	nb := c / qk0
	q := a.q8[t*c : (t+4)*c]
	d := a.d8[t*nb : (t+4)*nb]
	var r [4]float32
	if q4 {
		dot4Q4_0AVX2(&w[0], &q[0], c, &d[0], 4*nb, nb, &r)
	} else {
		dot4Q8_0AVX2(&w[0], &q[0], c, &d[0], 4*nb, nb, &r)
	}
	store4(out, stride, &r)
}

// streamSum reads all of p; it returns a value only so the reads happen.
func streamSum(p []byte) uint64 {
	n := len(p) &^ 127
	if n == 0 || !cpuHasAccel() {
		return streamSumGo(p)
	}
	return streamSumAVX2(&p[0], n) + streamSumGo(p[n:])
}
