//go:build amd64

package kernels

// Q4_0, Q8_0 and F16 weights in the AVX-512 interleaved layouts (q4x16,
// q8x16, f16x32, bf16x32; repack.go) (interleaved512_amd64.s).

//go:noescape
func q4x16x16AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q4x16x8AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q4x16x4AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q4x16x1AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q8x16x16AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q8x16x8AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q8x16x4AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q8x16x1AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func f16x32x12AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

//go:noescape
func f16x32x4AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

//go:noescape
func f16x32x1AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

//go:noescape
func bf16x32x12AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

//go:noescape
func bf16x32x4AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

//go:noescape
func bf16x32x1AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)

func installInterleaved512(s *kernelSet) {
	k := &s.types
	k[Q4_0].layout, k[Q4_0].grpMax, k[Q4_0].grp = q4x16, 16, q4x16Group
	k[Q4_0].streams = q4x16Streams
	k[Q8_0].layout, k[Q8_0].grpMax, k[Q8_0].grp = q8x16, 16, q8x16Group
	k[F16].layout, k[F16].grpMax, k[F16].grp = f16x32, 12, f16x32Group
	k[F16].streams = f16x32Streams
	k[BF16].layout, k[BF16].grpMax, k[BF16].grp = bf16x32, 12, bf16x32Group
}

// The group wrappers take tokens t..t+n-1 in runs of the widest kernel
// that fits; every kernel gives a (row, token) the same bits.

func q4x16Group(g []byte, a *Activations, t, n int, out []float32, stride int) {
	c := a.cols
	nb := c / qk0
	_ = out[(n-1)*stride+15]
	for n > 0 {
		x, p, o := &a.q8[t*c], &a.p8[4*t*nb], &out[0]
		switch {
		case n >= 16:
			q4x16x16AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+16, n-16, out[min(16*stride, len(out)):]
		case n >= 8:
			q4x16x8AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+8, n-8, out[min(8*stride, len(out)):]
		case n >= 4:
			q4x16x4AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+4, n-4, out[min(4*stride, len(out)):]
		default:
			q4x16x1AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+1, n-1, out[min(stride, len(out)):]
		}
	}
}

func q8x16Group(g []byte, a *Activations, t, n int, out []float32, stride int) {
	c := a.cols
	nb := c / qk0
	_ = out[(n-1)*stride+15]
	for n > 0 {
		x, p, o := &a.q8[t*c], &a.p8[4*t*nb], &out[0]
		switch {
		case n >= 16:
			q8x16x16AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+16, n-16, out[min(16*stride, len(out)):]
		case n >= 8:
			q8x16x8AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+8, n-8, out[min(8*stride, len(out)):]
		case n >= 4:
			q8x16x4AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+4, n-4, out[min(4*stride, len(out)):]
		default:
			q8x16x1AVX512(&g[0], x, c, p, 16*nb, nb, o, 4*stride)
			t, n, out = t+1, n-1, out[min(stride, len(out)):]
		}
	}
}

func f16x32Group(g []byte, a *Activations, t, n int, out []float32, stride int) {
	floatGroup(false, g, a, t, n, out, stride)
}

func bf16x32Group(g []byte, a *Activations, t, n int, out []float32, stride int) {
	floatGroup(true, g, a, t, n, out, stride)
}

// floatGroup runs the F16 or BF16 kernels; they are called directly, not
// through func values, which would make the pointers escape.
func floatGroup(bf bool, g []byte, a *Activations, t, n int, out []float32, stride int) {
	c := a.cols
	xs := a.xh
	if bf {
		xs = a.xb
	}
	_ = out[(n-1)*stride+31]
	for n > 0 {
		x, o := &xs[t*c], &out[0]
		switch {
		case n >= 12 && bf:
			bf16x32x12AVX512(&g[0], x, 4*c, c, o, 4*stride)
		case n >= 12:
			f16x32x12AVX512(&g[0], x, 4*c, c, o, 4*stride)
		case n >= 4 && bf:
			bf16x32x4AVX512(&g[0], x, 4*c, c, o, 4*stride)
		case n >= 4:
			f16x32x4AVX512(&g[0], x, 4*c, c, o, 4*stride)
		case bf:
			bf16x32x1AVX512(&g[0], x, 4*c, c, o, 4*stride)
		default:
			f16x32x1AVX512(&g[0], x, 4*c, c, o, 4*stride)
		}
		k := 1
		if n >= 12 {
			k = 12
		} else if n >= 4 {
			k = 4
		}
		t, n, out = t+k, n-k, out[min(k*stride, len(out)):]
	}
}

//go:noescape
func q4x16x1x4AVX512(w *byte, gs int, x *int8, p *int32, nb int, out *float32, os int)

//go:noescape
func f16x32x1x4AVX512(w *byte, gs int, x *float32, k int, out *float32, os int)

// q4x16Streams multiplies token t with the four groups at g, g[gs:],
// g[2gs:], g[3gs:], writing group k's rows at out[k*os:].
func q4x16Streams(g []byte, gs int, a *Activations, t int, out []float32, os int) {
	c := a.cols
	nb := c / qk0
	_ = g[3*gs+nb*288-1]
	_ = out[3*os+15]
	q4x16x1x4AVX512(&g[0], gs, &a.q8[t*c], &a.p8[4*t*nb], nb, &out[0], 4*os)
}

// f16x32Streams is q4x16Streams for F16 groups.
func f16x32Streams(g []byte, gs int, a *Activations, t int, out []float32, os int) {
	c := a.cols
	_ = g[3*gs+c*64-1]
	_ = out[3*os+31]
	f16x32x1x4AVX512(&g[0], gs, &a.xh[t*c], c, &out[0], 4*os)
}
