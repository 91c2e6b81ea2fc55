//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// The assembly kernels come in families, each a pair of files:
//
//	float_amd64.{go,s}        F32, F16, BF16 weights
//	q80q40_amd64.{go,s}       Q8_0, Q4_0 weights in the plain layout, and
//	                          the Q8_0-style activation quantiser
//	interleaved_amd64.{go,s}  Q8_0, Q4_0 weights interleaved by Repack
//	kquant_amd64.{go,s}       Q4_K, Q5_K, Q6_K weights, and the Q8_K-style
//	                          activation quantiser
//	vector_amd64.{go,s}       exp, SiLU, weighted sums, the bandwidth probe
//
// consts_amd64.s holds the constants several families read and
// reduce_amd64.h the horizontal sums every product kernel ends with. The
// Go files declare the assembly (lengths are trusted: the wrappers pass
// slices whose sizes Matrix and Activations have checked) and install it
// in the dispatch table.

func cpuHasAccel() bool {
	return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
}

// installAccel replaces the portable routines of s with the assembly ones.
func installAccel(s *kernelSet) {
	installFloat(s)
	installQ80Q40(s)
	installInterleaved(s)
	installKQuant(s)
	installVector()
}

func store4(out []float32, stride int, r *[4]float32) {
	_ = out[3*stride]
	out[0], out[stride], out[2*stride], out[3*stride] = r[0], r[1], r[2], r[3]
}
