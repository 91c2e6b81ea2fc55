package kernels

import (
	"encoding/binary"
	"math"
)

// Vector operations of a transformer layer. Lengths must match; the
// functions use the shorter operand where they differ in length only by
// programmer error (they never read out of bounds).

var (
	// weightedSumFast gets non-empty a and v long enough for every row.
	weightedSumFast func(out, a, v []float32, stride int)
	// weightedSumsRows adds the first m value rows to weightedSumsGroup
	// output rows of WeightedSums (operands checked) at once, in the
	// columns [0, done) it returns: the multiples of its width.
	weightedSumsRows  func(out []float32, os, width int, a []float32, as int, v []float32, stride, m int) (done int)
	weightedSumsGroup int
	dotFast           func(x, y []float32) float32
	// expSubFast sets x[i] = Exp(x[i]-m); siluMulFast is siluMulGo on
	// operands of equal length. Both give Exp's bits.
	expSubFast  func(x []float32, m float32)
	siluMulFast func(gate, up []float32)
	// softmaxFast is softmaxGo with the maximum and the scaling in vectors
	// (the sum stays in order).
	softmaxFast func(x []float32)
	// scaleFast is Scale's loop on a multiple of 8 values.
	scaleFast func(x []float32, s float32)
)

// Dot returns Σ x[i]·y[i] over min(len(x), len(y)) values.
func Dot(x, y []float32) float32 {
	n := min(len(x), len(y))
	x, y = x[:n], y[:n]
	if accel && dotFast != nil {
		return dotFast(x, y)
	}
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < n; i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// WeightedSum adds Σ_p a[p]·v[p·stride : p·stride+len(out)] to out: the
// value rows of attention weighted by their probabilities. Each output is
// one multiply-add chain in row order, the same arithmetic whether the rows
// come in one call or several (a paged cache), so it is batch invariant
// like the products. It does nothing when v is too short for len(a) rows.
func WeightedSum(out, a, v []float32, stride int) {
	if len(a) == 0 || len(out) == 0 || stride < len(out) || len(v) < (len(a)-1)*stride+len(out) {
		return
	}
	if accel && weightedSumFast != nil {
		weightedSumFast(out, a, v, stride)
		return
	}
	weightedSumGo(out, a, v, stride)
}

// WeightedSums is WeightedSum for k = len(n) output rows over the same
// value rows: row i adds Σ_{p<n[i]} a[i*as+p]·v[p·stride : p·stride+width]
// to out[i*os : i*os+width]. Each row gets the bits WeightedSum gives it
// alone; the fast levels let groups of rows share each value row they
// load (attention over a prompt, where every query row of a block reads
// the same values). It does nothing when an operand is too short.
func WeightedSums(out []float32, os, width int, a []float32, as int, n []int, v []float32, stride int) {
	if width <= 0 || stride < width {
		return
	}
	for i, ni := range n {
		if ni < 0 || (ni > 0 && (len(a) < i*as+ni || len(v) < (ni-1)*stride+width)) || len(out) < i*os+width {
			return
		}
	}
	i := 0
	if g := weightedSumsGroup; accel && weightedSumsRows != nil {
		for ; i+g <= len(n); i += g {
			m := n[i]
			for _, ni := range n[i+1 : i+g] {
				m = min(m, ni)
			}
			done := 0
			if m > 0 {
				done = weightedSumsRows(out[i*os:], os, width, a[i*as:], as, v, stride, m)
			}
			// The rest of each row: its later positions in the columns
			// done, then every position in the others (each output is its
			// own chain, so splitting columns changes no bits).
			for j := i; j < i+g; j++ {
				o, aj := out[j*os:j*os+width], a[j*as:j*as+n[j]]
				if done > 0 && n[j] > m {
					WeightedSum(o[:done], aj[m:], v[m*stride:], stride)
				}
				if done < width && n[j] > 0 {
					WeightedSum(o[done:], aj, v[done:], stride)
				}
			}
		}
	}
	for ; i < len(n); i++ {
		if n[i] > 0 {
			WeightedSum(out[i*os:i*os+width], a[i*as:i*as+n[i]], v, stride)
		}
	}
}

func weightedSumGo(out, a, v []float32, stride int) {
	for p, w := range a {
		row := v[p*stride : p*stride+len(out)]
		for i, x := range row {
			out[i] += w * x
		}
	}
}

// Scale sets x[i] = x[i]·s, in vectors where the level has them (the
// same products, so the same bits).
func Scale(x []float32, s float32) {
	n := 0
	if accel && scaleFast != nil {
		n = len(x) &^ 7
		if n > 0 {
			scaleFast(x[:n], s)
		}
	}
	for i := n; i < len(x); i++ {
		x[i] *= s
	}
}

// Add sets dst[i] = dst[i] + x[i] (residual connections).
func Add(dst, x []float32) {
	x = x[:min(len(x), len(dst))]
	for i, v := range x {
		dst[i] += v
	}
}

// RMSNorm sets dst[i] = x[i] / sqrt(mean(x²) + eps) · w[i]. dst may be x.
func RMSNorm(dst, x, w []float32, eps float32) {
	n := min(len(dst), len(x), len(w))
	if n == 0 {
		return
	}
	ss := Dot(x[:n], x[:n])
	inv := float32(1 / math.Sqrt(float64(ss/float32(n)+eps)))
	for i := range n {
		dst[i] = x[i] * inv * w[i]
	}
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max), the exponentials
// by Exp and summed in order: the same bits on every machine.
func Softmax(x []float32) {
	if accel && softmaxFast != nil {
		softmaxFast(x)
		return
	}
	softmaxGo(x)
}

func softmaxGo(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	inv := 1 / expSub(x, m)
	for i := range x {
		x[i] *= inv
	}
}

// SiLUMul sets gate[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^-g)
// with e^-g by Exp: the SwiGLU feed-forward activation.
func SiLUMul(gate, up []float32) {
	n := min(len(up), len(gate))
	if accel && siluMulFast != nil {
		siluMulFast(gate[:n], up[:n])
		return
	}
	siluMulGo(gate[:n], up[:n])
}

func siluMulGo(gate, up []float32) {
	for i, u := range up {
		g := gate[i]
		gate[i] = g / (1 + Exp(-g)) * u
	}
}

// expSub sets x[i] = e^(x[i]-m) and returns the sum, in order.
func expSub(x []float32, m float32) float32 {
	if !accel || expSubFast == nil {
		return expSubGo(x, m)
	}
	expSubFast(x, m)
	var sum float32
	for _, e := range x {
		sum += e
	}
	return sum
}

// expSubGo sets x[i] = e^(x[i]-m) and returns the sum.
func expSubGo(x []float32, m float32) float32 {
	var sum float32
	for i, v := range x {
		e := Exp(v - m)
		x[i] = e
		sum += e
	}
	return sum
}

// Exp is e^x in float32 to about 1e-7 relative error, several times faster
// than math.Exp: range reduction to 2^n · 2^f with |f| <= 1/2 and the Taylor
// series of 2^f to degree 6, in float64. It is the one exponential of the
// model and the sampler (softmax, SiLU, sampling weights), so their results
// do not depend on which of them computes one. Below -87 it returns 0
// (float32's normal range ends there), above 88 +Inf, and NaN for NaN.
func Exp(x float32) float32 {
	switch {
	case x < -87:
		return 0
	case x > 88:
		return float32(math.Inf(1))
	case x != x:
		return x
	}
	const log2e, ln2 = 1.4426950408889634, 0.6931471805599453
	t := float64(x) * log2e
	n := math.Floor(t + 0.5)
	g := float64(t-n) * ln2
	// The conversions forbid fused multiply-adds (which GOAMD64=v3 would
	// otherwise allow), so that the vector forms give the same bits.
	p := 1 + float64(g*(1+float64(g*(1.0/2+float64(g*(1.0/6+float64(g*(1.0/24+float64(g*(1.0/120+float64(g*(1.0/720))))))))))))
	return float32(p) * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// streamSumGo reads p eight bytes at a time.
func streamSumGo(p []byte) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+32 <= len(p); i += 32 {
		s0 += binary.LittleEndian.Uint64(p[i:])
		s1 += binary.LittleEndian.Uint64(p[i+8:])
		s2 += binary.LittleEndian.Uint64(p[i+16:])
		s3 += binary.LittleEndian.Uint64(p[i+24:])
	}
	for ; i < len(p); i++ {
		s0 += uint64(p[i])
	}
	return s0 + s1 + s2 + s3
}
