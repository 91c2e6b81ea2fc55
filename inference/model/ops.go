package model

// The products and most vector operations come from the kernels package;
// these are the ones the model keeps for itself because they lean on a fast
// float32 exp (the kernels' versions call math.Exp).

import "math"

// swiglu writes silu(gate) * up into gate.
func swiglu(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + expf(-g)) * up[i]
	}
}

// softmax turns x into probabilities in place.
func softmax(x []float32) {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		e := expf(v - m)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// rope rotates the adjacent pairs (2i, 2i+1) of the first len(cos)*2 values
// of each head of x by the angles whose cosines and sines are given.
func rope(x []float32, headDim int, cos, sin []float32) {
	for h := 0; h+headDim <= len(x); h += headDim {
		v := x[h : h+2*len(cos)]
		for i, c := range cos {
			s := sin[i]
			a, b := v[2*i], v[2*i+1]
			v[2*i] = a*c - b*s
			v[2*i+1] = a*s + b*c
		}
	}
}

// expf is e^x in float32 to about 1e-7 relative error, several times faster
// than math.Exp: range reduction to 2^n * 2^f with |f| <= 1/2 and the
// Taylor series of 2^f to degree 6.
func expf(x float32) float32 {
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
	g := (t - n) * ln2
	p := 1 + g*(1+g*(1.0/2+g*(1.0/6+g*(1.0/24+g*(1.0/120+g*(1.0/720))))))
	return float32(p) * math.Float32frombits(uint32(int32(n)+127)<<23)
}
