package kvcache

import (
	"math"

	"github.com/corral-ai/corral/inference/kernels"
)

// Float32 bit patterns (sign cleared) where the half-float cases change.
const (
	halfOverflow  = 0x47800000 // 2^16: infinity from here on (NaN above infinity)
	halfMinNormal = 0x38800000 // 2^-14: below it a half float is subnormal
	f32Infinity   = 0x7f800000
	// halfRebias moves a float32 exponent to a half float's: 127 - 15.
	halfRebias = (127 - 15) << 23
)

// toHalf converts src to IEEE half-float bits in dst, rounding to nearest,
// ties to even. It gives the bits of kernels.F32ToF16 for every float32
// (checked over all 2^32 once, and per exponent and rounding case in the
// tests) without that function's data-dependent rounding branches, which
// mispredict on real rows: about four times faster, and Store converts
// 2 × KVHeads × HeadDim values per token and layer. With the assembly
// kernels, kernels.ToHalf converts 8 values per instruction with the same
// bits (in a 16-sequence decode step of llama-110m the loop below was 6%
// of the CPU time).
func toHalf(dst []uint16, src []float32) {
	if kernels.Accelerated() {
		kernels.ToHalf(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = half(x)
	}
}

func half(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	b &^= 1 << 31
	switch {
	case b >= halfOverflow:
		if b > f32Infinity {
			return sign | 0x7e00 // a quiet NaN
		}
		return sign | 0x7c00
	case b < halfMinNormal:
		// Adding 0.5, whose float32 unit in the last place is 2^-24 (a
		// half float's subnormal step), makes the float32 adder round at
		// that step, to even; the sum's low bits are the half float's.
		// A sum that rounds up to 2^-14 gives the smallest normal half.
		return sign | uint16(math.Float32bits(math.Float32frombits(b)+0.5)-math.Float32bits(0.5))
	}
	// Normal: rebias the exponent and round the 13 dropped bits to
	// nearest even by adding just under half a step, plus one when the
	// kept part is odd. A carry runs into the exponent, up to infinity
	// for 65520 and above.
	b += 0xfff + (b>>13)&1 - halfRebias
	return sign | uint16(b>>13)
}
