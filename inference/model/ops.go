package model

// The products and the other vector operations (softmax, SwiGLU, RMSNorm,
// the exponential) come from the kernels package; RoPE is the model's own.

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
