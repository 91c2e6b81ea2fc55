//go:build amd64

package kernels

// Q4_0, Q8_0 and F16 weights in the AVX-512 interleaved layouts (q4x16,
// q8x16, f16x32; repack.go) (interleaved512_amd64.s).

func installInterleaved512(s *kernelSet) {}
