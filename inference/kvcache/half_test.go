package kvcache

import (
	"math"
	"testing"

	"github.com/corral-ai/corral/inference/kernels"
)

// TestHalfMatchesKernels compares toHalf with kernels.F32ToF16 on every
// case the conversion distinguishes: both signs, every exponent, every
// kept mantissa with each kind of dropped bits (none, under, at and over
// half a step), and every float32 whose half is subnormal or zero.
func TestHalfMatchesKernels(t *testing.T) {
	check := func(b uint32) {
		x := math.Float32frombits(b)
		if got, want := half(x), kernels.F32ToF16(x); got != want {
			t.Fatalf("%#08x (%v): %#04x, kernels.F32ToF16 %#04x", b, x, got, want)
		}
	}
	dropped := []uint32{0, 1, 0x7ff, 0xfff, 0x1000, 0x1001, 0x1800, 0x1fff}
	for sign := range uint32(2) {
		for exp := range uint32(256) {
			for kept := range uint32(1 << 10) {
				for _, d := range dropped {
					check(sign<<31 | exp<<23 | kept<<13 | d)
				}
			}
		}
		// Subnormal results: every mantissa of the exponents that round
		// to a non-zero subnormal (2^-25 and up to 2^-14).
		for b := uint32(102) << 23; b < halfMinNormal; b++ {
			check(sign<<31 | b)
		}
	}
}

func FuzzHalf(f *testing.F) {
	for _, x := range []float32{0, 1, -1, 65504, 65520, 0x1p-24, 0x1p-25, 0x1.8p-25, float32(math.Inf(1))} {
		f.Add(math.Float32bits(x))
	}
	f.Fuzz(func(t *testing.T, b uint32) {
		x := math.Float32frombits(b)
		if got, want := half(x), kernels.F32ToF16(x); got != want {
			t.Fatalf("%#08x (%v): %#04x, kernels.F32ToF16 %#04x", b, x, got, want)
		}
	})
}

func BenchmarkHalf(b *testing.B) {
	src := make([]float32, 768)
	for i := range src {
		src[i] = float32(math.Sin(float64(i))) * 3
	}
	dst := make([]uint16, len(src))
	b.Run("toHalf", func(b *testing.B) {
		for b.Loop() {
			toHalf(dst, src)
		}
	})
	b.Run("kernels.F32ToF16", func(b *testing.B) {
		for b.Loop() {
			for i, x := range src {
				dst[i] = kernels.F32ToF16(x)
			}
		}
	})
}
