package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// withAccel runs f with the assembly kernels on or off and restores the
// default afterwards. Tests using it must not run in parallel.
func withAccel(t testing.TB, on bool, f func()) {
	t.Helper()
	defer SetAccelerated(true)
	if SetAccelerated(on) != on {
		t.Skip("assembly kernels not available on this machine")
	}
	f()
}

// withLevel runs f with the kernels of level l and restores the default
// afterwards; it reports false, without running f, when the machine lacks
// the level. Tests using it must not run in parallel.
func withLevel(l Level, f func()) bool {
	defer SetLevel(Available())
	if SetLevel(l) != l {
		return false
	}
	f()
	return true
}

// levels lists the kernel sets this machine runs, portable first.
func levels() []Level {
	var ls []Level
	for l := range Available() + 1 {
		ls = append(ls, l)
	}
	return ls
}

// kernelSets returns the table of every level this machine runs.
func kernelSets() map[Level]kernelSet {
	m := map[Level]kernelSet{}
	for _, l := range levels() {
		m[l] = kernelsFor(l)
	}
	return m
}

// randMatrix quantises random weights of the given shape.
func randMatrix(t testing.TB, r *rand.Rand, ty Type, rows, cols int) Matrix {
	t.Helper()
	rb, err := ty.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, rows*rb)
	for i := range rows {
		if err := Quantize(ty, data[i*rb:(i+1)*rb], randVec(r, cols, 0.5)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatrix(ty, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// actValues returns activation row tok as the kernels of type ty see it:
// float32 for float weights, dequantised 8-bit blocks otherwise.
func actValues(t testing.TB, ty Type, a *Activations, tok int) []float64 {
	t.Helper()
	f := impl.types[ty].act
	if err := a.check(f); err != nil {
		t.Fatal(err)
	}
	if err := prepareLocal(a, f); err != nil { // and actQ8 under actQ81
		t.Fatal(err)
	}
	out := make([]float64, a.cols)
	switch f {
	case actF32, actF16, actBF16:
		for i, v := range a.floatRow(f, tok) {
			out[i] = float64(v)
		}
	case actQ8, actQ81:
		q, d := a.q8Row(tok)
		for i, v := range q {
			out[i] = float64(v) * float64(d[i/qk0])
		}
	case actQ8K:
		q, d, _ := a.qkRow(tok)
		for i, v := range q {
			out[i] = float64(v) * float64(d[i/qkK])
		}
	}
	return out
}

// reference computes the product in float64 from dequantised weights and
// activations, and the sum of magnitudes of the terms for tolerances.
func reference(t testing.TB, m *Matrix, x []float32, n int) (ref, mag []float64) {
	t.Helper()
	var a Activations
	if err := a.Set(x, n, m.Cols); err != nil {
		t.Fatal(err)
	}
	w := make([]float32, m.Cols)
	ref = make([]float64, n*m.Rows)
	mag = make([]float64, n*m.Rows)
	acts := make([][]float64, n)
	for tok := range n {
		acts[tok] = actValues(t, m.Type, &a, tok)
	}
	for r := range m.Rows {
		if err := m.DequantizeRow(w, r); err != nil {
			t.Fatal(err)
		}
		for tok := range n {
			var s, sa float64
			for i, v := range acts[tok] {
				p := float64(w[i]) * v
				s += p
				sa += math.Abs(p)
			}
			if impl.types[m.Type].act == actQ81 {
				// Q8_1 pairs a block's min with its f16 sum s, not with
				// the sum of the dequantised activations.
				ds, dsa := minTermFix(m, r, acts[tok], a.q81Row(tok))
				s, sa = s+ds, sa+dsa
			}
			ref[tok*m.Rows+r], mag[tok*m.Rows+r] = s, sa
		}
	}
	return ref, mag
}

func matmul(t testing.TB, p *Pool, m *Matrix, x []float32, n int) []float32 {
	t.Helper()
	out := make([]float32, n*m.Rows)
	if err := p.MatMul(out, m, x, n); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMatMul compares the portable and assembly products with a float64
// reference for every type, odd block counts and batch sizes that exercise
// the 4-token kernels and their remainders.
func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := NewPool(3)
	defer p.Close()
	for _, ty := range weightTypes {
		for _, blocks := range []int{1, 3, 8, 11} {
			cols := blocks * ty.BlockSize()
			if ty.BlockSize() == 1 {
				cols = []int{1, 13, 64, 200}[blocks%4]
			}
			rows := 1 + blocks*5 // 6, 16, 41, 56: whole and partial groups of 8, 16 and 32
			m := randMatrix(t, r, ty, rows, cols)
			for _, n := range []int{1, 4, 7, 13} {
				t.Run(fmt.Sprintf("%s/cols=%d/n=%d", ty, cols, n), func(t *testing.T) {
					x := randVec(r, n*cols, 1)
					ref, mag := reference(t, &m, x, n)
					check := func(name string, got []float32) {
						for i := range ref {
							if d := math.Abs(float64(got[i]) - ref[i]); d > 1e-5*mag[i]+1e-30 {
								t.Fatalf("%s: output %d = %g, reference %g (|terms| %g)", name, i, got[i], ref[i], mag[i])
							}
						}
					}
					for _, l := range levels() {
						withLevel(l, func() {
							check(l.String(), matmul(t, p, &m, x, n))
							if mr := Repack(m); mr.Interleaved() {
								check(l.String()+" interleaved", matmul(t, p, &mr, x, n))
								withLevel(Portable, func() { check(l.String()+" interleaved, portable", matmul(t, p, &mr, x, n)) })
							}
						})
					}
				})
			}
		}
	}
}

// refQ8 is ggml's quantize_row_q8_0 (x86) for one block, written out
// independently: scale max|x|/127 rounded to f16, quants x·(127/max|x|)
// rounded to nearest even.
func refQ8(x []float32) (q []int8, d float32, s int32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d = F16ToF32(F32ToF16(amax / 127))
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	q = make([]int8, len(x))
	for i, v := range x {
		q[i] = int8(math.RoundToEven(float64(v * id)))
		s += int32(q[i])
	}
	return q, d, s
}

// refQ8K is ggml's quantize_row_q8_K_ref for one block of 256.
func refQ8K(x []float32) (q []int8, d float32, sums []int16) {
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, m = a, v
		}
	}
	q, sums = make([]int8, len(x)), make([]int16, len(x)/16)
	if amax == 0 {
		return q, 0, sums
	}
	iscale := -127 / m
	for i, v := range x {
		q[i] = int8(min(127, math.RoundToEven(float64(iscale*v))))
		sums[i/16] += int16(q[i])
	}
	return q, 1 / iscale, sums
}

// activationInputs are rows to quantise: random ones with a zero value
// and an all-zero block, and blocks whose largest magnitude occurs with
// both signs (the first occurrence decides Q8_K's sign).
func activationInputs(r *rand.Rand) [][]float32 {
	var rows [][]float32
	for _, n := range []int{32, 256, 2048} {
		x := randVec(r, n, 2)
		x[5] = 0
		if n >= 96 {
			clear(x[64:96])
		}
		rows = append(rows, x)
	}
	tie := randVec(r, 512, 0.5)
	tie[3], tie[40] = -3, 3        // block 0: -m first
	tie[256+7], tie[256+9] = 3, -3 // block 1: +m first
	return append(rows, tie)
}

// TestActivationQuant checks the 8-bit activation forms of every kernel
// set the machine runs, bit for bit, against ggml's definitions.
func TestActivationQuant(t *testing.T) {
	sets := kernelSets()
	inputs := activationInputs(rand.New(rand.NewPCG(5, 6)))
	for name, ks := range sets {
		for _, x := range inputs {
			n := len(x)
			t.Run(fmt.Sprintf("%s/n=%d", name, n), func(t *testing.T) {
				q, d, s := make([]int8, n), make([]float32, n/qk0), make([]int32, n/qk0)
				ks.quantQ8(q, d, s, x)
				for b := range d {
					wq, wd, ws := refQ8(x[b*qk0 : (b+1)*qk0])
					if d[b] != wd || s[b] != ws {
						t.Fatalf("q8 block %d: scale %g sum %d, want %g %d", b, d[b], s[b], wd, ws)
					}
					for i, v := range wq {
						if q[b*qk0+i] != v {
							t.Fatalf("q8 value %d = %d, want %d (x=%g)", b*qk0+i, q[b*qk0+i], v, x[b*qk0+i])
						}
					}
				}
				if n%qkK != 0 {
					return
				}
				qk, dk, sk := make([]int8, n), make([]float32, n/qkK), make([]int16, n/16)
				ks.quantQ8K(qk, dk, sk, x)
				for b := range dk {
					wq, wd, ws := refQ8K(x[b*qkK : (b+1)*qkK])
					if dk[b] != wd {
						t.Fatalf("q8k block %d: scale %g, want %g", b, dk[b], wd)
					}
					for i, v := range wq {
						if qk[b*qkK+i] != v {
							t.Fatalf("q8k value %d = %d, want %d (x=%g)", b*qkK+i, qk[b*qkK+i], v, x[b*qkK+i])
						}
					}
					for g, v := range ws {
						if sk[b*16+g] != v {
							t.Fatalf("q8k sum %d = %d, want %d", b*16+g, sk[b*16+g], v)
						}
					}
				}
			})
		}
	}
	// The definitions keep quantisation error small.
	for _, x := range inputs {
		for b := 0; b < len(x)/qk0; b++ {
			q, d, _ := refQ8(x[b*qk0 : (b+1)*qk0])
			for i, v := range q {
				if got := float32(v) * d; math.Abs(float64(got-x[b*qk0+i])) > 0.6*float64(d) {
					t.Fatalf("q8 value %d = %g, input %g (scale %g)", b*qk0+i, got, x[b*qk0+i], d)
				}
			}
		}
	}
}

// TestActivationRounding checks the f16 and bf16 forms of every kernel set
// against the scalar conversions.
func TestActivationRounding(t *testing.T) {
	sets := kernelSets()
	x := randVec(rand.New(rand.NewPCG(9, 9)), 1003, 3)
	x[0], x[1], x[2] = float32(math.NaN()), float32(math.Inf(-1)), 1e-40
	x[3], x[4] = 65520, 3.3895314e38 // f16 overflow; bf16 rounding up to infinity
	for name, ks := range sets {
		h, b := make([]float32, len(x)), make([]float32, len(x))
		ks.roundF16(h, x)
		ks.roundBF16(b, x)
		for i, v := range x {
			if wh := F16ToF32(F32ToF16(v)); math.Float32bits(h[i]) != math.Float32bits(wh) && !(wh != wh && h[i] != h[i]) {
				t.Fatalf("%s: f16 of %g = %g, want %g", name, v, h[i], wh)
			}
			if wb := BF16ToF32(F32ToBF16(v)); math.Float32bits(b[i]) != math.Float32bits(wb) {
				t.Fatalf("%s: bf16 of %g = %g (%#x), want %g (%#x)", name, v, b[i], math.Float32bits(b[i]), wb, math.Float32bits(wb))
			}
		}
	}
}

func TestMatMulActsReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	p := NewPool(2)
	defer p.Close()
	cols := 512
	x := randVec(r, 3*cols, 1)
	var a Activations
	if err := a.Set(x, 3, cols); err != nil {
		t.Fatal(err)
	}
	for _, ty := range weightTypes {
		m := randMatrix(t, r, ty, 9, cols)
		got := make([]float32, 3*9)
		if err := p.MatMulActs(got, &m, &a); err != nil {
			t.Fatal(err)
		}
		wantOut := matmul(t, p, &m, x, 3)
		for i := range got {
			if got[i] != wantOut[i] {
				t.Fatalf("%s: MatMulActs %d = %g, MatMul %g", ty, i, got[i], wantOut[i])
			}
		}
	}
}

func TestMatMulErrors(t *testing.T) {
	p := NewPool(2)
	m, err := NewMatrix(Q8_0, 2, 32, make([]byte, 2*q80Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.MatMul(make([]float32, 3), &m, make([]float32, 32), 1); !errors.Is(err, ErrShape) {
		t.Errorf("wrong output length: %v", err)
	}
	if err := p.MatMul(make([]float32, 2), &m, make([]float32, 31), 1); !errors.Is(err, ErrShape) {
		t.Errorf("wrong input length: %v", err)
	}
	var a Activations
	if err := a.Set(make([]float32, 64), 1, 64); err != nil {
		t.Fatal(err)
	}
	if err := p.MatMulActs(make([]float32, 2), &m, &a); !errors.Is(err, ErrShape) {
		t.Errorf("columns mismatch: %v", err)
	}
	p.Close()
	p.Close()
	if err := p.MatMul(make([]float32, 2), &m, make([]float32, 32), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("closed pool: %v", err)
	}
	if err := p.Parallel(3, func(int, int) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed pool: %v", err)
	}
}

func TestParallel(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		p := NewPool(threads)
		for _, n := range []int{1, 3, 100, 1001} {
			for range 50 { // many dispatches exercise the park and wake paths
				hits := make([]int32, n)
				err := p.Parallel(n, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i]++
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("threads=%d n=%d: index %d visited %d times", threads, n, i, h)
					}
				}
			}
		}
		p.Close()
	}
}

// TestPoolConcurrentCallers shares one pool between goroutines; operations
// take turns and each gets its own right answer.
func TestPoolConcurrentCallers(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	p := NewPool(2)
	defer p.Close()
	m := randMatrix(t, r, Q4_0, 40, 256)
	xs := make([][]float32, 4)
	wants := make([][]float32, 4)
	for i := range xs {
		xs[i] = randVec(r, 2*256, 1)
		wants[i] = matmul(t, p, &m, xs[i], 2)
	}
	var wg sync.WaitGroup
	for i := range xs {
		wg.Go(func() {
			for range 30 {
				out := make([]float32, 2*40)
				if err := p.MatMul(out, &m, xs[i], 2); err != nil {
					t.Error(err)
					return
				}
				for j := range out {
					if out[j] != wants[i][j] {
						t.Errorf("caller %d: output %d = %g, want %g", i, j, out[j], wants[i][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestMatMulNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	p := NewPool(2)
	defer p.Close()
	for _, ty := range []Type{Q4_0, Q4_K, F16} {
		m := randMatrix(t, r, ty, 64, 512)
		x := randVec(r, 5*512, 1)
		out := make([]float32, 5*64)
		allocs := testing.AllocsPerRun(20, func() {
			if err := p.MatMul(out, &m, x, 5); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per MatMul", ty, allocs)
		}
	}
}

func TestRepackRows(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, l := range levels() {
		withLevel(l, func() {
			for _, ty := range weightTypes {
				cols := 2 * max(ty.BlockSize(), 48)
				m := randMatrix(t, r, ty, 70, cols)
				mr := Repack(m)
				want := impl.types[ty].layout != plain
				if w, ok := widenQ8(m); ok { // Q5_0, IQ4_NL interleave as Q8_0
					want = impl.types[w.Type].layout != plain
				}
				if mr.Interleaved() != want {
					t.Fatalf("%s %s: interleaved %v, want %v", l, ty, mr.Interleaved(), want)
				}
				a, b := make([]float32, cols), make([]float32, cols)
				for row := range m.Rows {
					if err := m.DequantizeRow(a, row); err != nil {
						t.Fatal(err)
					}
					if err := mr.DequantizeRow(b, row); err != nil {
						t.Fatal(err)
					}
					for i := range a {
						if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
							t.Fatalf("%s %s row %d value %d: plain %g, interleaved %g", l, ty, row, i, a[i], b[i])
						}
					}
				}
				if mr2 := Repack(mr); mr2.layout != mr.layout || &mr2.Data[0] != &mr.Data[0] {
					t.Fatalf("%s %s: repacking twice changed the matrix", l, ty)
				}
			}
		})
	}
}

// TestMatMulBatchInvariant wants every output of a product to have the same
// bits whatever the batch around it: token t of an n-token MatMul must equal
// the 1-token MatMul of that token, for every type, both layouts, the
// portable and assembly kernels, row counts that leave remainders after the
// 3-row tiles, 4-token kernels and 8-row groups, and pools of one and three
// threads (whose chunks split the rows differently). The model re-quantises
// activations before each product, so a last-bit difference here would
// change a batched forward pass.
func TestMatMulBatchInvariant(t *testing.T) {
	const maxN = 17
	r := rand.New(rand.NewPCG(21, 22))
	p1, p3 := NewPool(1), NewPool(3)
	defer p1.Close()
	defer p3.Close()
	for _, l := range levels() {
		for _, ty := range weightTypes {
			colsList := []int{ty.BlockSize(), 3 * ty.BlockSize()}
			if ty.BlockSize() == 1 {
				colsList = []int{13, 64, 200}
			}
			for _, cols := range colsList {
				for _, rows := range []int{1, 7, 29, 64} {
					m := randMatrix(t, r, ty, rows, cols)
					x := randVec(r, maxN*cols, 1)
					layouts := map[string]Matrix{"plain": m}
					// Repack interleaves for the level in use; the portable
					// kernels read every layout.
					for _, ll := range levels() {
						withLevel(ll, func() {
							if mr := Repack(m); mr.Interleaved() {
								layouts[fmt.Sprint("interleaved for ", ll)] = mr
							}
						})
					}
					for layout, m := range layouts {
						name := fmt.Sprintf("%s/%s/%s/%dx%d", l, ty, layout, rows, cols)
						t.Run(name, func(t *testing.T) {
							withLevel(l, func() {
								single := make([]float32, maxN*rows)
								for tok := range maxN {
									copy(single[tok*rows:], matmul(t, p1, &m, x[tok*cols:(tok+1)*cols], 1))
								}
								for n := 1; n <= maxN; n++ {
									for _, p := range []*Pool{p1, p3} {
										got := matmul(t, p, &m, x[:n*cols], n)
										for i, v := range got {
											if math.Float32bits(v) != math.Float32bits(single[i]) {
												t.Fatalf("n=%d, %d threads: token %d row %d = %g, alone %g", n, p.Threads(), i/rows, i%rows, v, single[i])
											}
										}
									}
								}
								if ty != F32 {
									return
								}
								// Attention scores use Dot where a batch uses MatMul.
								for tok := range maxN {
									for row := range rows {
										w := asF32(m.Data[row*m.rowBytes : (row+1)*m.rowBytes])
										if d := Dot(w, x[tok*cols:(tok+1)*cols]); math.Float32bits(d) != math.Float32bits(single[tok*rows+row]) {
											t.Fatalf("Dot of token %d row %d = %g, MatMul %g", tok, row, d, single[tok*rows+row])
										}
									}
								}
							})
						})
					}
				}
			}
		}
	}
}

// TestConcat wants the parts of a concatenated matrix, in one product, to
// have the bits of each matrix's own product, on every level, plain and
// interleaved, for batch sizes that take every kernel.
func TestConcat(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	p := NewPool(3)
	defer p.Close()
	for _, ty := range weightTypes {
		cols := 2 * max(ty.BlockSize(), 48)
		ms := []Matrix{randMatrix(t, r, ty, 64, cols), randMatrix(t, r, ty, 32, cols), randMatrix(t, r, ty, 96, cols)}
		for _, l := range levels() {
			withLevel(l, func() {
				cat, err := Concat(ms...)
				if err != nil {
					t.Fatal(err)
				}
				catx := Repack(cat)
				for _, n := range []int{1, 5, 13} {
					x := randVec(r, n*cols, 1)
					var a Activations
					if err := a.Set(x, n, cols); err != nil {
						t.Fatal(err)
					}
					for name, c := range map[string]Matrix{"plain": cat, "interleaved": catx} {
						outs := make([][]float32, len(ms))
						for i, m := range ms {
							outs[i] = make([]float32, n*m.Rows)
						}
						if err := p.MatMulParts(outs, &c, &a); err != nil {
							t.Fatal(err)
						}
						for i, m := range ms {
							if name == "interleaved" {
								m = Repack(m)
							}
							want := matmul(t, p, &m, x, n)
							for k, v := range want {
								if math.Float32bits(v) != math.Float32bits(outs[i][k]) {
									t.Fatalf("%s %s %s n=%d: part %d output %d = %g, alone %g", l, ty, name, n, i, k, outs[i][k], v)
								}
							}
						}
					}
				}
			})
		}
	}
	q4 := randMatrix(t, r, Q4_0, 32, 64)
	for name, ms := range map[string][]Matrix{
		"none":        nil,
		"types":       {q4, randMatrix(t, r, Q8_0, 32, 64)},
		"widths":      {q4, randMatrix(t, r, Q4_0, 32, 96)},
		"rows":        {q4, randMatrix(t, r, Q4_0, 40, 64)},
		"interleaved": {q4, Repack(randMatrix(t, r, Q4_0, 64, 64))},
	} {
		if name == "interleaved" && !ms[1].Interleaved() {
			continue
		}
		if _, err := Concat(ms...); !errors.Is(err, ErrShape) {
			t.Errorf("%s: %v, want ErrShape", name, err)
		}
	}
	cat, err := Concat(q4, q4)
	if err != nil {
		t.Fatal(err)
	}
	var a Activations
	if err := a.Set(make([]float32, 64), 1, 64); err != nil {
		t.Fatal(err)
	}
	if err := p.MatMulParts([][]float32{make([]float32, 64)}, &cat, &a); !errors.Is(err, ErrShape) {
		t.Errorf("one output for two parts: %v", err)
	}
	if err := p.MatMulParts([][]float32{make([]float32, 32), make([]float32, 31)}, &cat, &a); !errors.Is(err, ErrShape) {
		t.Errorf("short output: %v", err)
	}
}

// TestParallelThreads wants every index visited once, thread numbers in
// range, and no thread number in two calls at once.
func TestParallelThreads(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		p := NewPool(threads)
		busy := make([]atomic.Int32, threads)
		for _, n := range []int{1, 3, 100} {
			for range 30 {
				hits := make([]atomic.Int32, n)
				err := p.ParallelThreads(n, func(th, lo, hi int) {
					if th < 0 || th >= threads {
						t.Errorf("thread %d of %d", th, threads)
						return
					}
					if busy[th].Add(1) != 1 {
						t.Errorf("thread %d runs two items at once", th)
					}
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
					busy[th].Add(-1)
				})
				if err != nil {
					t.Fatal(err)
				}
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("threads=%d n=%d: index %d visited %d times", threads, n, i, h)
					}
				}
			}
		}
		p.Close()
		if err := p.ParallelThreads(3, func(int, int, int) {}); !errors.Is(err, ErrClosed) {
			t.Errorf("closed pool: %v", err)
		}
	}
}

// TestMatMulLocal wants the pool's bits from a product on the calling
// goroutine, for every type, level and layout.
func TestMatMulLocal(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	p := NewPool(2)
	defer p.Close()
	for _, l := range levels() {
		withLevel(l, func() {
			for _, ty := range weightTypes {
				cols := 2 * max(ty.BlockSize(), 48)
				m := randMatrix(t, r, ty, 70, cols)
				for _, mm := range []Matrix{m, Repack(m)} {
					for _, n := range []int{1, 6, 13} {
						x := randVec(r, n*cols, 1)
						want := matmul(t, p, &mm, x, n)
						var a Activations
						if err := a.Set(x, n, cols); err != nil {
							t.Fatal(err)
						}
						got := make([]float32, n*mm.Rows)
						if err := MatMulLocal([][]float32{got}, &mm, &a); err != nil {
							t.Fatal(err)
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s %s n=%d: output %d = %g, pool %g", l, ty, n, i, got[i], want[i])
							}
						}
					}
				}
			}
		})
	}
	m := randMatrix(t, r, Q4_0, 4, 64)
	var a Activations
	if err := a.Set(make([]float32, 64), 1, 64); err != nil {
		t.Fatal(err)
	}
	if err := MatMulLocal([][]float32{make([]float32, 3)}, &m, &a); !errors.Is(err, ErrShape) {
		t.Errorf("short output: %v", err)
	}
}

// TestOneTokenStreams checks that one-token products of matrices large
// enough for the four-stream kernels (k.streams: several groups per work
// item, groups left over, rows past the last group, a part boundary inside
// an item) give the bits of the same token inside a batch, which runs the
// group kernels.
func TestOneTokenStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	pools := []*Pool{NewPool(1), NewPool(2)}
	for _, p := range pools {
		defer p.Close()
	}
	for _, l := range levels() {
		for _, ty := range []Type{Q4_0, Q8_0, F16, BF16} {
			for _, shape := range [][3]int{{1047, 0, 64}, {608, 1024, 96}, {2016, 0, 256}} {
				rows, rows2, cols := shape[0], shape[1], shape[2]
				withLevel(l, func() {
					m := randMatrix(t, r, ty, rows, cols)
					if rows2 > 0 {
						var err error
						if m, err = Concat(m, randMatrix(t, r, ty, rows2, cols)); err != nil {
							t.Fatal(err)
						}
					}
					m = Repack(m)
					x := randVec(r, 2*cols, 1)
					for _, p := range pools {
						batch, one := streamsProduct(t, p, &m, x, 2), streamsProduct(t, p, &m, x[:cols], 1)
						for k := range one {
							for i, v := range one[k] {
								if math.Float32bits(v) != math.Float32bits(batch[k][i]) {
									t.Fatalf("%s %s %d+%d×%d, %d threads: part %d row %d = %g alone, %g in a batch", l, ty, rows, rows2, cols, p.Threads(), k, i, v, batch[k][i])
								}
							}
						}
					}
				})
			}
		}
	}
}

// streamsProduct is the product of n tokens with every part of m.
func streamsProduct(t *testing.T, p *Pool, m *Matrix, x []float32, n int) [][]float32 {
	t.Helper()
	var a Activations
	if err := a.Set(x, n, m.Cols); err != nil {
		t.Fatal(err)
	}
	outs := make([][]float32, m.Parts())
	for k := range outs {
		rows := m.Rows
		if m.parts != nil {
			rows = m.parts[k+1] - m.parts[k]
		}
		outs[k] = make([]float32, n*rows)
	}
	if err := p.MatMulParts(outs, m, &a); err != nil {
		t.Fatal(err)
	}
	return outs
}
