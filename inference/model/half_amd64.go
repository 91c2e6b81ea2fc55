package model

import (
	"unsafe"

	"github.com/corral-ai/corral/inference/kernels"
)

// halfToFloatF16C converts n half floats, a multiple of 8, with the F16C
// instruction VCVTPH2PS.
//
//go:noescape
func halfToFloatF16C(dst *float32, src *uint16, n int)

// halfToFloat converts src to float32 into dst (len(dst) >= len(src)),
// exactly: eight at a time where the kernels run AVX2 (which implies
// F16C), the rest through the kernels' table.
func halfToFloat(dst []float32, src []uint16) {
	n := 0
	if kernels.CurrentLevel() >= kernels.AVX2 {
		n = len(src) &^ 7
		if n > 0 {
			halfToFloatF16C(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = kernels.F16ToF32(src[i])
	}
}

// prefetchLines asks for the n 64-byte cache lines from p on without
// waiting for them.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, n int)
