package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestOps(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 7, 8, 33, 1000} {
		x, y, w := randVec(r, n, 1), randVec(r, n, 1), randVec(r, n, 1)
		var dot, ss float64
		for i := range x {
			dot += float64(x[i]) * float64(y[i])
			ss += float64(x[i]) * float64(x[i])
		}
		for _, on := range []bool{false, true} {
			withAccel(t, on, func() {
				if got := Dot(x, y); math.Abs(float64(got)-dot) > 1e-5*math.Sqrt(ss)*float64(n) {
					t.Errorf("n=%d accel=%v: Dot = %g, want %g", n, on, got, dot)
				}
			})
		}
		out := make([]float32, n)
		RMSNorm(out, x, w, 1e-5)
		inv := 1 / math.Sqrt(ss/float64(n)+1e-5)
		for i := range out {
			if want := float64(x[i]) * inv * float64(w[i]); math.Abs(float64(out[i])-want) > 1e-5*math.Abs(want)+1e-6 {
				t.Fatalf("n=%d: RMSNorm[%d] = %g, want %g", n, i, out[i], want)
			}
		}
		s := append([]float32(nil), x...)
		Softmax(s)
		var mx, sum float64 = math.Inf(-1), 0
		for _, v := range x {
			mx = max(mx, float64(v))
		}
		for _, v := range x {
			sum += math.Exp(float64(v) - mx)
		}
		for i, v := range s {
			if want := math.Exp(float64(x[i])-mx) / sum; math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("n=%d: Softmax[%d] = %g, want %g", n, i, v, want)
			}
		}
		g := append([]float32(nil), x...)
		SiLUMul(g, y)
		for i, v := range g {
			xi := float64(x[i])
			if want := xi / (1 + math.Exp(-xi)) * float64(y[i]); math.Abs(float64(v)-want) > 1e-5*math.Abs(want)+1e-6 {
				t.Fatalf("n=%d: SiLUMul[%d] = %g, want %g", n, i, v, want)
			}
		}
		a := append([]float32(nil), x...)
		Add(a, y)
		for i, v := range a {
			if want := x[i] + y[i]; v != want {
				t.Fatalf("n=%d: Add[%d] = %g, want %g", n, i, v, want)
			}
		}
	}
}

func TestStreamSum(t *testing.T) {
	p := make([]byte, 1000)
	var want uint64
	for i := range p {
		p[i] = byte(i * 7)
	}
	// Both sums add the same little-endian words, so they agree exactly
	// when the length is a multiple of 8.
	for _, n := range []int{0, 8, 128, 256, 384, 1000} {
		want = streamSumGo(p[:n])
		if got := streamSum(p[:n]); got != want {
			t.Errorf("n=%d: streamSum = %d, want %d", n, got, want)
		}
	}
}

// TestExpOps checks SiLUMul and Softmax against float64 on ordinary and
// extreme inputs, and wants the same bits with the assembly kernels on and
// off: the model's outputs must not depend on the machine.
func TestExpOps(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	x := randVec(r, 203, 4)
	copy(x, []float32{0, -0, 100, -100, 88.5, -88.5, 1e-30, -1e-30, 30, -30})
	u := randVec(r, len(x), 1)
	silu, soft := map[bool][]float32{}, map[bool][]float32{}
	for _, on := range []bool{false, true} {
		withAccel(t, on, func() {
			g := append([]float32(nil), x...)
			SiLUMul(g, u)
			silu[on] = g
			for i, v := range g {
				xi := float64(x[i])
				want := xi * float64(u[i]) / (1 + math.Exp(-xi))
				if math.Abs(float64(v)-want) > 2e-6*math.Abs(want)+1e-30 {
					t.Fatalf("accel=%v: SiLUMul(%g)·%g = %g, want %g", on, x[i], u[i], v, want)
				}
			}
			s := append([]float32(nil), x[10:]...) // softmax of the finite-range part
			Softmax(s)
			var mx, sum float64 = math.Inf(-1), 0
			for _, v := range x[10:] {
				mx = max(mx, float64(v))
			}
			for _, v := range x[10:] {
				sum += math.Exp(float64(v) - mx)
			}
			for i, v := range s {
				if want := math.Exp(float64(x[10+i])-mx) / sum; math.Abs(float64(v)-want) > 2e-6*want+1e-12 {
					t.Fatalf("accel=%v: Softmax[%d] = %g, want %g", on, i, v, want)
				}
			}
			soft[on] = s
		})
	}
	for name, got := range map[string]map[bool][]float32{"SiLUMul": silu, "Softmax": soft} {
		for i, v := range got[false] {
			if w := got[true][i]; math.Float32bits(v) != math.Float32bits(w) {
				t.Fatalf("%s[%d]: %g without assembly, %g with", name, i, v, w)
			}
		}
	}
}

func TestExp(t *testing.T) {
	for x := float32(-87); x <= 88; x += 0.0173 {
		got, want := float64(Exp(x)), math.Exp(float64(x))
		if rel := math.Abs(got-want) / want; rel > 3e-7 {
			t.Fatalf("Exp(%v) = %v, want %v (rel %g)", x, got, want, rel)
		}
	}
	tests := []struct {
		name string
		x    float32
		want float32
	}{
		{"zero", 0, 1},
		{"negative zero", float32(math.Copysign(0, -1)), 1},
		{"below the normal range", -87.5, 0},
		{"minus infinity", float32(math.Inf(-1)), 0},
		{"above the range", 88.5, float32(math.Inf(1))},
		{"plus infinity", float32(math.Inf(1)), float32(math.Inf(1))},
	}
	for _, tt := range tests {
		if got := Exp(tt.x); got != tt.want {
			t.Errorf("%s: Exp(%v) = %v, want %v", tt.name, tt.x, got, tt.want)
		}
	}
	if nan := float32(math.NaN()); !math.IsNaN(float64(Exp(nan))) {
		t.Errorf("Exp(NaN) = %v", Exp(nan))
	}
}

// TestWeightedSum checks WeightedSum against a float64 reference on every
// level and wants the same bits when the rows come in several calls
// (pages of a cache), and from every assembly level.
func TestWeightedSum(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, width := range []int{1, 7, 8, 40, 64, 72, 136, 200} {
		for _, rows := range []int{1, 5, 33} {
			stride := width + 3
			a, v := randVec(r, rows, 1), randVec(r, rows*stride, 1)
			init := randVec(r, width, 1)
			var asm []float32
			for _, l := range levels() {
				on := l
				withLevel(l, func() {
					whole := append([]float32(nil), init...)
					WeightedSum(whole, a, v, stride)
					for i, got := range whole {
						want, mag := float64(init[i]), math.Abs(float64(init[i]))
						for p := range rows {
							want += float64(a[p]) * float64(v[p*stride+i])
							mag += math.Abs(float64(a[p]) * float64(v[p*stride+i]))
						}
						if math.Abs(float64(got)-want) > 1e-6*mag {
							t.Fatalf("width %d, %d rows, accel=%v: out[%d] = %g, want %g", width, rows, on, i, got, want)
						}
					}
					paged := append([]float32(nil), init...)
					for lo := 0; lo < rows; lo += 4 {
						hi := min(rows, lo+4)
						WeightedSum(paged, a[lo:hi], v[lo*stride:], stride)
					}
					for i := range whole {
						if math.Float32bits(paged[i]) != math.Float32bits(whole[i]) {
							t.Fatalf("width %d, %d rows, accel=%v: out[%d] in pages %g, at once %g", width, rows, on, i, paged[i], whole[i])
						}
					}
					if l < AVX2 {
						return
					}
					if asm == nil {
						asm = whole
					}
					for i := range whole {
						if math.Float32bits(asm[i]) != math.Float32bits(whole[i]) {
							t.Fatalf("width %d, %d rows: out[%d] = %g at %s, %g at avx2", width, rows, i, whole[i], l, asm[i])
						}
					}
				})
			}
		}
	}
}

// TestWeightedSums wants, on every level, each row of WeightedSums to have
// the bits WeightedSum gives it alone, for rows of unequal lengths (a
// causal prompt's), empty rows, and widths that leave columns to the
// one-row path.
func TestWeightedSums(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, width := range []int{8, 40, 64, 72, 100, 128, 136, 200} {
		for _, k := range []int{1, 2, 3, 4, 5, 9} {
			for _, causal := range []bool{false, true} {
				stride, maxN := width+3, 37
				as, os := maxN+2, width+5
				n := make([]int, k)
				for i := range n {
					n[i] = r.IntN(maxN + 1)
					if causal {
						n[i] = maxN - k + 1 + i
					}
				}
				if k > 2 && !causal {
					n[1] = 0
				}
				a, v := randVec(r, k*as, 1), randVec(r, maxN*stride, 1)
				init := randVec(r, k*os, 1)
				for _, l := range levels() {
					withLevel(l, func() {
						got := append([]float32(nil), init...)
						WeightedSums(got, os, width, a, as, n, v, stride)
						want := append([]float32(nil), init...)
						for i, ni := range n {
							if ni > 0 {
								WeightedSum(want[i*os:i*os+width], a[i*as:i*as+ni], v, stride)
							}
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s width %d, rows %v: out[%d] = %g, one row at a time %g", l, width, n, i, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
	out := []float32{7}
	WeightedSums(out, 1, 1, []float32{1, 1}, 2, []int{2}, []float32{1}, 1) // v too short
	if out[0] != 7 {
		t.Errorf("short values: wrote %g", out[0])
	}
}

// TestScale wants x[i]·s's bits on every level, for lengths around the
// vector width.
func TestScale(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, n := range []int{0, 1, 7, 8, 9, 64, 100} {
		x, s := randVec(r, n, 3), float32(r.NormFloat64())
		for _, l := range levels() {
			withLevel(l, func() {
				got := append([]float32(nil), x...)
				Scale(got, s)
				for i, v := range x {
					if want := v * s; math.Float32bits(got[i]) != math.Float32bits(want) {
						t.Fatalf("%s n %d: x[%d]·%g = %g, want %g", l, n, i, s, got[i], want)
					}
				}
			})
		}
	}
}

// TestDotRows wants Dot's bits for every row, on every level.
func TestDotRows(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, width := range []int{1, 7, 8, 13, 64, 100} {
		for _, n := range []int{1, 3, 4, 9} {
			stride := width + 5
			rows, x := randVec(r, n*stride, 1), randVec(r, width, 1)
			for _, l := range levels() {
				withLevel(l, func() {
					out := make([]float32, n)
					DotRows(out, rows, stride, x)
					for i, got := range out {
						if want := Dot(rows[i*stride:i*stride+width], x); math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s width %d: row %d = %g, Dot %g", l, width, i, got, want)
						}
					}
				})
			}
		}
	}
	out := []float32{7}
	DotRows(out, make([]float32, 3), 4, make([]float32, 4)) // rows too short
	if out[0] != 7 {
		t.Errorf("short rows: wrote %g", out[0])
	}
}

// TestExpVectorBits wants the vector exponentials of every level (Softmax's
// and SiLUMul's) to give Exp's bits, over a dense sweep of the range,
// its edges, the values beyond it and odd lengths.
func TestExpVectorBits(t *testing.T) {
	var x []float32
	for v := float32(-90); v <= 90; v += 0.00731 {
		x = append(x, v)
	}
	x = append(x, -87, 88, -86.99999, 87.99999, -87.00001, 88.00001, 0, 1e-38, -1e-38, 1e-45,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), float32(math.Copysign(0, -1)), 3.4e38, -3.4e38)
	r := rand.New(rand.NewPCG(5, 6))
	for range 10007 {
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	u := randVec(r, len(x), 2)
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for _, l := range levels() {
		withLevel(l, func() {
			for _, n := range []int{len(x), len(x) - 3, 7, 1} {
				e := append([]float32(nil), x[:n]...)
				sum := expSub(e, 0.25)
				var want float32
				for i, v := range x[:n] {
					w := Exp(v - 0.25)
					want += w
					if !same(e[i], w) {
						t.Fatalf("%s: exp(%g - 0.25) = %g, Exp gives %g", l, v, e[i], w)
					}
				}
				if !same(sum, want) {
					t.Fatalf("%s: sum %g, want %g", l, sum, want)
				}
				g := append([]float32(nil), x[:n]...)
				SiLUMul(g, u[:n])
				for i, v := range x[:n] {
					if w := v / (1 + Exp(-v)) * u[i]; !same(g[i], w) {
						t.Fatalf("%s: silu(%g)·%g = %g, want %g", l, v, u[i], g[i], w)
					}
				}
			}
		})
	}
}

// TestSoftmaxBits wants every level's Softmax to give the portable bits:
// rows of attention scores of many lengths, zeros of both signs as the
// largest value, infinities, and a NaN (which the vector maximum hands
// back to the portable code).
func TestSoftmaxBits(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	var rows [][]float32
	for _, n := range []int{1, 7, 8, 9, 16, 31, 64, 100, 512, 1023} {
		rows = append(rows, randVec(r, n, 6))
	}
	zeros := randVec(r, 40, 3)
	for i := range zeros {
		zeros[i] = -float32(math.Abs(float64(zeros[i]))) - 1
	}
	zeros[3], zeros[17] = float32(math.Copysign(0, -1)), 0
	negZero := append([]float32(nil), zeros...)
	negZero[17] = float32(math.Copysign(0, -1))
	inf := randVec(r, 24, 3)
	inf[5], inf[20] = float32(math.Inf(-1)), float32(math.Inf(-1))
	nan := randVec(r, 24, 3)
	nan[9] = float32(math.NaN())
	rows = append(rows, zeros, negZero, inf, nan)
	for i, row := range rows {
		want := append([]float32(nil), row...)
		softmaxGo(want)
		for _, l := range levels() {
			withLevel(l, func() {
				got := append([]float32(nil), row...)
				Softmax(got)
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(got[j] != got[j] && want[j] != want[j]) {
						t.Fatalf("%s: row %d (%d values): [%d] = %g, want %g", l, i, len(row), j, got[j], want[j])
					}
				}
			})
		}
	}
}
