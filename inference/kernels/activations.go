package kernels

import (
	"fmt"
	"math"
)

// actFormat is the form a kernel wants its activations in.
type actFormat uint8

const (
	actF32 actFormat = iota // the float32 rows as given
	actQ8                   // int8 in blocks of 32, one float32 scale each
	actQ8K                  // int8 in blocks of 256, float32 scale, int16 sums of 16
)

// Activations is a batch of n activation rows of cols values, with the
// quantised forms the kernels need computed on first use and kept until the
// next Set. Quantising once and reusing it across the matrices that read the
// same input (Q, K and V; gate and up) saves work. The zero value is ready to
// use; buffers are kept between uses, so steady state allocates nothing.
type Activations struct {
	n, cols int
	x       []float32

	q8  []int8    // n*cols, Q8_0-style quants
	d8  []float32 // n*cols/32 scales
	m8  []float32 // n*cols/32: 8·scale·Σquants, the bias term of Q4_0
	ok8 bool

	qk  []int8    // n*cols, Q8_K-style quants
	dk  []float32 // n*cols/256 scales
	sk  []int16   // n*cols/16 sums of 16 quants
	okK bool
}

// Set points a at x, n rows of cols values; x is read, not copied, and must
// not change until the last product that uses a.
func (a *Activations) Set(x []float32, n, cols int) error {
	if n < 0 || cols <= 0 || len(x) != n*cols {
		return fmt.Errorf("activations: %w: %d values for %d×%d", ErrShape, len(x), n, cols)
	}
	a.n, a.cols, a.x = n, cols, x
	a.ok8, a.okK = false, false
	return nil
}

// N is the number of rows (tokens).
func (a *Activations) N() int { return a.n }

// Cols is the length of each row.
func (a *Activations) Cols() int { return a.cols }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// check reports whether format f fits the row length.
func (a *Activations) check(f actFormat) error {
	bs := 1
	switch f {
	case actQ8:
		bs = qk0
	case actQ8K:
		bs = qkK
	}
	if a.cols%bs != 0 {
		return fmt.Errorf("activations: %w: %d columns is not a multiple of %d", ErrShape, a.cols, bs)
	}
	return nil
}

func (a *Activations) has(f actFormat) bool {
	switch f {
	case actQ8:
		return a.ok8
	case actQ8K:
		return a.okK
	}
	return true
}

func (a *Activations) mark(f actFormat) {
	switch f {
	case actQ8:
		a.ok8 = true
	case actQ8K:
		a.okK = true
	}
}

// alloc sizes the buffers of format f for the current batch.
func (a *Activations) alloc(f actFormat) {
	switch f {
	case actQ8:
		a.q8 = grow(a.q8, a.n*a.cols)
		a.d8 = grow(a.d8, a.n*a.cols/qk0)
		a.m8 = grow(a.m8, a.n*a.cols/qk0)
	case actQ8K:
		a.qk = grow(a.qk, a.n*a.cols)
		a.dk = grow(a.dk, a.n*a.cols/qkK)
		a.sk = grow(a.sk, a.n*a.cols/16)
	}
}

// quantRows fills format f for rows [lo, hi); the buffers are allocated.
func (a *Activations) quantRows(f actFormat, lo, hi int) {
	c := a.cols
	switch f {
	case actQ8:
		quantActQ8(a.q8[lo*c:hi*c], a.d8[lo*c/qk0:hi*c/qk0], a.m8[lo*c/qk0:hi*c/qk0], a.x[lo*c:hi*c])
	case actQ8K:
		quantActQ8K(a.qk[lo*c:hi*c], a.dk[lo*c/qkK:hi*c/qkK], a.sk[lo*c/16:hi*c/16], a.x[lo*c:hi*c])
	}
}

// quantActQ8 quantises x in blocks of 32 to int8 in [-127, 127] with a
// float32 scale per block (kept in float32: only weights need the f16 form)
// and m = 8·scale·Σquants, which the interleaved Q4_0 kernels subtract
// instead of taking 8 from every weight.
func quantActQ8(q []int8, d, m []float32, x []float32) {
	impl.quantQ8(q, d, m, x)
}

func quantActQ8Go(q []int8, d, m []float32, x []float32) {
	for b := range d {
		blk := x[b*qk0 : (b+1)*qk0]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		d[b] = s
		var id float32
		if s != 0 {
			id = 1 / s
		}
		out := q[b*qk0 : (b+1)*qk0]
		var sum int
		for i, v := range blk {
			out[i] = int8(clampInt(roundEven(v*id), -127, 127))
			sum += int(out[i])
		}
		m[b] = float32(sum) * s * 8
	}
}

// roundEven rounds to nearest, ties to even, as the vector rounding does.
func roundEven(v float32) int { return int(math.RoundToEven(float64(v))) }
