//go:build amd64

package kernels

// K-quant weights times Q8_K-style activations, AVX-512
// (kquant512_amd64.s).

//go:noescape
func dotQ4KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dot4Q4KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func dotQ5KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dot4Q5KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func dotQ6KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dot4Q6KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

func installKQuant512(s *kernelSet) {
	for _, ty := range []Type{Q4_K, Q5_K, Q6_K} {
		k := &s.types[ty]
		k.dot = func(w []byte, a *Activations, t int) float32 {
			q, d, s := a.qkRow(t)
			switch ty {
			case Q4_K:
				return dotQ4KAVX512(&w[0], &q[0], &d[0], &s[0], len(d))
			case Q5_K:
				return dotQ5KAVX512(&w[0], &q[0], &d[0], &s[0], len(d))
			}
			return dotQ6KAVX512(&w[0], &q[0], &d[0], &s[0], len(d))
		}
		k.dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
			c := a.cols
			nb := c / qkK
			var r [4]float32
			x, d, sums := &a.qk[t*c], &a.dk[t*nb], &a.sk[t*c/16]
			switch ty {
			case Q4_K:
				dot4Q4KAVX512(&w[0], x, c, d, 4*nb, sums, c/8, nb, &r)
			case Q5_K:
				dot4Q5KAVX512(&w[0], x, c, d, 4*nb, sums, c/8, nb, &r)
			default:
				dot4Q6KAVX512(&w[0], x, c, d, 4*nb, sums, c/8, nb, &r)
			}
			store4(out, stride, &r)
		}
		k.rows4, k.tile34 = nil, nil
	}
}
