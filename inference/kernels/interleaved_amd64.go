//go:build amd64

package kernels

// Q4_0 and Q8_0 weights interleaved in groups of eight rows (repack.go)
// times Q8_0-style activations (interleaved_amd64.s).

//go:noescape
func q40x8AVX2(w *byte, x *int8, p *int32, nb int, out *float32)

//go:noescape
func q40x8x4AVX2(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)

//go:noescape
func q80x8AVX2(w *byte, x *int8, d *float32, nb int, out *float32)

//go:noescape
func q80x8x4AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *float32, os int)

func installInterleaved(s *kernelSet) {
	k := &s.types
	k[Q4_0].layout, k[Q4_0].grpMax = q4x8, 4
	k[Q4_0].grp = func(g []byte, a *Activations, t, n int, out []float32, stride int) {
		c := a.cols
		nb := c / qk0
		if n == 4 {
			_ = out[3*stride+7]
			q40x8x4AVX2(&g[0], &a.q8[t*c], c, &a.p8[4*t*nb], 16*nb, nb, &out[0], 4*stride)
			return
		}
		for i := range n {
			o := out[i*stride : i*stride+8]
			q40x8AVX2(&g[0], &a.q8[(t+i)*c], &a.p8[4*(t+i)*nb], nb, &o[0])
		}
	}
	k[Q8_0].layout, k[Q8_0].grpMax = q8x8, 4
	k[Q8_0].grp = func(g []byte, a *Activations, t, n int, out []float32, stride int) {
		c := a.cols
		nb := c / qk0
		if n == 4 {
			_ = out[3*stride+7]
			q80x8x4AVX2(&g[0], &a.q8[t*c], c, &a.d8[t*nb], 4*nb, nb, &out[0], 4*stride)
			return
		}
		for i := range n {
			o := out[i*stride : i*stride+8]
			q80x8AVX2(&g[0], &a.q8[(t+i)*c], &a.d8[(t+i)*nb], nb, &o[0])
		}
	}
}
