//go:build !amd64

package model

import (
	"unsafe"

	"github.com/corral-ai/corral/inference/kernels"
)

// halfToFloat converts src to float32 into dst (len(dst) >= len(src)),
// exactly.
func halfToFloat(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = kernels.F16ToF32(h)
	}
}

// prefetchLines does nothing where the model has no assembly.
func prefetchLines(unsafe.Pointer, int) {}
