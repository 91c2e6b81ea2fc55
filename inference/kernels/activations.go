package kernels

import (
	"fmt"
	"math"
)

// actFormat is the form a kernel wants its activations in.
type actFormat uint8

const (
	actF32  actFormat = iota // the float32 rows as given
	actF16                   // rounded to f16, held as float32 (F16 weights)
	actBF16                  // rounded to bf16, held as float32 (BF16 weights)
	actQ8                    // int8 in blocks of 32, an f16-exact scale and the sum of the quants each
	actQ8K                   // int8 in blocks of 256, float32 scale, int16 sums of 16
	actQ8P                   // actQ8 plus a record (d, -8·Σq, -128·Σq, 0) per block
	actQ81                   // actQ8 plus Q8_1's f16 block sum d·Σq (Q4_1, Q5_1 weights)
	numActFormats
)

// Activations is a batch of n activation rows of cols values, with the
// forms the kernels need computed on first use and kept until the next
// Set. Computing them once and reusing them across the matrices that read
// the same input (Q, K and V; gate and up) saves work. The zero value is
// ready to use; buffers are kept between uses, so steady state allocates
// nothing.
//
// The forms follow ggml's definitions, so products round as llama.cpp's
// do: float weights of type F16 or BF16 meet activations rounded to that
// type (each product is then exact in float32), and 8-bit activations
// are quantised as ggml's quantize_row_q8_0 and quantize_row_q8_K do.
type Activations struct {
	n, cols int
	x       []float32
	ok      [numActFormats]bool

	xh []float32 // n*cols values rounded to f16
	xb []float32 // n*cols values rounded to bf16

	q8  []int8    // n*cols, Q8_0-style quants
	d8  []float32 // n*cols/32 scales, each exactly an f16 value
	s8  []int32   // n*cols/32 sums of the quants of each block
	p8  []int32   // n*cols/32 records of 4: d's bits, -8·s, -128·s, 0
	s81 []float32 // n*cols/32 Q8_1 sums (fillQ81)

	qk []int8    // n*cols, Q8_K-style quants
	dk []float32 // n*cols/256 scales
	sk []int16   // n*cols/16 sums of 16 quants
}

// Set points a at x, n rows of cols values; x is read, not copied, and must
// not change until the last product that uses a.
func (a *Activations) Set(x []float32, n, cols int) error {
	if n < 0 || cols <= 0 || len(x) != n*cols {
		return fmt.Errorf("activations: %w: %d values for %d×%d", ErrShape, len(x), n, cols)
	}
	a.n, a.cols, a.x = n, cols, x
	a.ok = [numActFormats]bool{actF32: true}
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
	case actQ8, actQ8P, actQ81:
		bs = qk0
	case actQ8K:
		bs = qkK
	}
	if a.cols%bs != 0 {
		return fmt.Errorf("activations: %w: %d columns is not a multiple of %d", ErrShape, a.cols, bs)
	}
	return nil
}

func (a *Activations) has(f actFormat) bool { return a.ok[f] }

func (a *Activations) mark(f actFormat) { a.ok[f] = true }

// alloc sizes the buffers of format f for the current batch.
func (a *Activations) alloc(f actFormat) {
	switch f {
	case actF16:
		a.xh = grow(a.xh, a.n*a.cols)
	case actBF16:
		a.xb = grow(a.xb, a.n*a.cols)
	case actQ8:
		a.q8 = grow(a.q8, a.n*a.cols)
		a.d8 = grow(a.d8, a.n*a.cols/qk0)
		a.s8 = grow(a.s8, a.n*a.cols/qk0)
	case actQ8P:
		a.p8 = grow(a.p8, 4*a.n*a.cols/qk0)
	case actQ81:
		a.s81 = grow(a.s81, a.n*a.cols/qk0)
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
	case actF16:
		impl.roundF16(a.xh[lo*c:hi*c], a.x[lo*c:hi*c])
	case actBF16:
		impl.roundBF16(a.xb[lo*c:hi*c], a.x[lo*c:hi*c])
	case actQ8:
		quantActQ8(a.q8[lo*c:hi*c], a.d8[lo*c/qk0:hi*c/qk0], a.s8[lo*c/qk0:hi*c/qk0], a.x[lo*c:hi*c])
	case actQ8K:
		quantActQ8K(a.qk[lo*c:hi*c], a.dk[lo*c/qkK:hi*c/qkK], a.sk[lo*c/16:hi*c/16], a.x[lo*c:hi*c])
	case actQ81: // actQ8 is filled already
		fillQ81(a.s81[lo*c/qk0:hi*c/qk0], a.s8[lo*c/qk0:hi*c/qk0], a.x[lo*c:hi*c])
	case actQ8P: // actQ8 is filled already
		for b := lo * c / qk0; b < hi*c/qk0; b++ {
			r := a.p8[4*b : 4*b+4]
			r[0], r[1], r[2], r[3] = int32(math.Float32bits(a.d8[b])), -8*a.s8[b], -128*a.s8[b], 0
		}
	}
}

// quantActQ8 quantises x in blocks of 32 to int8 as ggml's
// quantize_row_q8_0 does on x86: the scale is max|x|/127 rounded to f16
// (the f16 value is what the products use), the quants are x·(127/max|x|)
// rounded to nearest even. s gets the sum of each block's quants, which
// the kernels that bias the weights to unsigned take off again.
func quantActQ8(q []int8, d []float32, s []int32, x []float32) {
	impl.quantQ8(q, d, s, x)
}

func quantActQ8Go(q []int8, d []float32, s []int32, x []float32) {
	for b := range d {
		blk := x[b*qk0 : (b+1)*qk0]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d[b] = f16Table[F32ToF16(amax/127)]
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		out := q[b*qk0 : (b+1)*qk0]
		var sum int32
		for i, v := range blk {
			out[i] = int8(clampInt(roundEven(v*id), -127, 127))
			sum += int32(out[i])
		}
		s[b] = sum
	}
}

// roundEven rounds to nearest, ties to even, as the vector rounding does.
func roundEven(v float32) int { return int(math.RoundToEven(float64(v))) }
