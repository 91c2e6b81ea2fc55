//go:build amd64

package kernels

// Q4_0 and Q8_0 weights interleaved in groups of eight rows (repack.go)
// times Q8_0-style activations (interleaved_amd64.s).

//go:noescape
func q40x8AVX2(w *byte, x *int8, d *float32, s *int32, nb int, out *float32)

//go:noescape
func q40x8x4AVX2(w *byte, x *int8, xs int, d *float32, s *int32, ds int, nb int, out *float32, os int)

//go:noescape
func q80x8AVX2(w *byte, x *int8, d *float32, nb int, out *float32)

//go:noescape
func q80x8x4AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *float32, os int)

func installInterleaved(s *kernelSet) {
	k := &s.types
	k[Q4_0].grp = func(g []byte, a *Activations, t int, out []float32) {
		q, d := a.q8Row(t)
		_ = out[7]
		q40x8AVX2(&g[0], &q[0], &d[0], &a.s8[t*len(d)], len(d), &out[0])
	}
	k[Q4_0].grp4 = func(g []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qk0
		_ = out[3*stride+7]
		q40x8x4AVX2(&g[0], &a.q8[t*c], c, &a.d8[t*nb], &a.s8[t*nb], 4*nb, nb, &out[0], 4*stride)
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
}
