//go:build amd64

package kernels

// Q8_0 and Q4_0 weights in the plain layout times Q8_0-style activations,
// and the activation quantiser (q80q40_amd64.s).

//go:noescape
func dotQ8_0AVX2(w *byte, x *int8, d *float32, nb int) float32

//go:noescape
func dotQ4_0AVX2(w *byte, x *int8, d *float32, nb int) float32

//go:noescape
func dot4Q8_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)

//go:noescape
func dot4Q4_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)

//go:noescape
func rows4Q8_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)

//go:noescape
func rows4Q4_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)

//go:noescape
func quantQ8AVX2(q *int8, d *float32, s *int32, x *float32, nb int)

func installQ80Q40(s *kernelSet) {
	for _, q4 := range []bool{false, true} {
		ty := Q8_0
		if q4 {
			ty = Q4_0
		}
		k := &s.types[ty]
		k.dot = func(w []byte, a *Activations, t int) float32 {
			q, d := a.q8Row(t)
			if q4 {
				return dotQ4_0AVX2(&w[0], &q[0], &d[0], len(d))
			}
			return dotQ8_0AVX2(&w[0], &q[0], &d[0], len(d))
		}
		k.dot4 = func(w []byte, a *Activations, t int, out []float32, stride int) {
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
		k.rows4 = func(w []byte, rb int, a *Activations, t int, out []float32) {
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
	s.quantQ8 = func(q []int8, d []float32, sums []int32, x []float32) {
		if len(d) > 0 {
			quantQ8AVX2(&q[0], &d[0], &sums[0], &x[0], len(d))
		}
	}
}
