package model

import (
	"math"
	"testing"

	"github.com/corral-ai/corral/inference/kernels"
)

// TestHalfToFloat: every half float converts to the kernels' value, at
// every kernel level and length (the vector part and the tail).
func TestHalfToFloat(t *testing.T) {
	src := make([]uint16, 1<<16+5)
	for i := range src {
		src[i] = uint16(i * 40503)
	}
	for l := kernels.Portable; l <= kernels.Available(); l++ {
		prev := kernels.SetLevel(l)
		for _, n := range []int{0, 3, 8, 13, len(src)} {
			dst := make([]float32, n)
			halfToFloat(dst, src[:n])
			for i := range n {
				want := kernels.F16ToF32(src[i])
				if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
					t.Fatalf("level %v: %#04x: %v, want %v", l, src[i], dst[i], want)
				}
			}
		}
		kernels.SetLevel(prev)
	}
}
