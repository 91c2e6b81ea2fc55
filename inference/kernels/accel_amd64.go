//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// The assembly kernels come in families, each a pair of files:
//
//	float_amd64.{go,s}          F32, F16, BF16 weights (AVX2)
//	float512_amd64.{go,s}       F32 weights, Dot, DotRows (AVX-512)
//	q80q40_amd64.{go,s}         Q8_0, Q4_0 weights in the plain layout, and
//	                            the Q8_0-style activation quantiser (AVX2)
//	interleaved_amd64.{go,s}    Q8_0, Q4_0 weights interleaved by Repack (AVX2)
//	interleaved512_amd64.{go,s} Q8_0, Q4_0 and F16 weights interleaved by
//	                            Repack (AVX-512)
//	kquant_amd64.{go,s}         Q4_K, Q5_K, Q6_K weights, and the Q8_K-style
//	                            activation quantiser (AVX2)
//	kquant512_amd64.{go,s}      Q4_K, Q5_K, Q6_K weights (AVX-512)
//	vector_amd64.{go,s}         exp (Softmax, SiLU), weighted sums, the
//	                            bandwidth probe (AVX2 and AVX-512)
//	halfrows_amd64.{go,s}       attention's dot products and weighted sums
//	                            over half-float KV rows (AVX2 and AVX-512)
//
// consts_amd64.s holds the constants several families read and
// reduce_amd64.h the horizontal sums the AVX2 product kernels end with.
// The Go files declare the assembly (lengths are trusted: the wrappers pass
// slices whose sizes Matrix and Activations have checked) and install it
// in the dispatch table.

// cpuLevel is the widest level the processor runs.
func cpuLevel() Level {
	x := &cpu.X86
	switch {
	case !x.HasAVX2 || !x.HasFMA || !x.HasF16C:
		return Portable
	case !x.HasAVX512F || !x.HasAVX512BW || !x.HasAVX512VL || !x.HasAVX512DQ || !x.HasAVX512VNNI:
		return AVX2
	}
	return AVX512
}

// cpuHasAccel reports whether the processor runs assembly kernels.
func cpuHasAccel() bool { return cpuLevel() >= AVX2 }

// installAccel replaces the portable routines of s with the assembly ones
// of level l and below.
func installAccel(s *kernelSet, l Level) {
	if l < AVX2 {
		return
	}
	s.level = AVX2
	installFloat(s)
	installQ80Q40(s)
	installInterleaved(s)
	installKQuant(s)
	if l < AVX512 {
		return
	}
	s.level = AVX512
	installFloat512(s)
	installInterleaved512(s)
	installKQuant512(s)
}

// installOps sets ops.go's fast routines (package variables outside the
// table) for level l; only SetLevel calls it, so that building a table
// (kernelsFor) changes nothing else.
func installOps(l Level) {
	if l < AVX2 {
		return
	}
	installVector(l)
	installHalfRows(l)
	toHalfFast = toHalfAVX2
	if l >= AVX512 {
		dotFast = dotAVX512
	}
}

func store4(out []float32, stride int, r *[4]float32) {
	_ = out[3*stride]
	out[0], out[stride], out[2*stride], out[3*stride] = r[0], r[1], r[2], r[3]
}
