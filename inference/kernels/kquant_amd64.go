//go:build amd64

package kernels

// K-quant weights times Q8_K-style activations, and the activation
// quantiser (kquant_amd64.s).

//go:noescape
func dotQ4KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dotQ5KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dotQ6KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32

//go:noescape
func dot4Q4KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func dot4Q6KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)

//go:noescape
func quantQ8KAVX2(q *int8, d *float32, s *int16, x *float32, nb int)

func installKQuant(s *kernelSet) {
	k := &s.types
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
	k[Q5_K].dot = func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ5KAVX2(&w[0], &q[0], &d[0], &s[0], len(d))
	}
	k[Q6_K].dot = func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ6KAVX2(&w[0], &q[0], &d[0], &s[0], len(d))
	}
	k[Q6_K].dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
		c := a.cols
		nb := c / qkK
		var r [4]float32
		dot4Q6KAVX2(&w[0], &a.qk[t*c], c, &a.dk[t*nb], 4*nb, &a.sk[t*c/16], c/8, nb, &r)
		store4(out, stride, &r)
	}
	s.quantQ8K = func(q []int8, d []float32, sums []int16, x []float32) {
		if len(d) > 0 {
			quantQ8KAVX2(&q[0], &d[0], &sums[0], &x[0], len(d))
		}
	}
}
