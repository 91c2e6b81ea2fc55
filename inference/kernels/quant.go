package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize decodes src, a whole number of blocks of type t, into dst,
// which must hold exactly the values src encodes. Any bytes decode without
// error; odd scales simply give odd values (NaN, infinity).
func Dequantize(t Type, dst []float32, src []byte) error {
	rb, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if rb != len(src) {
		return fmt.Errorf("dequantize %s: %w: %d values need %d bytes, have %d", t, ErrShape, len(dst), rb, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = f16Table[le16(src[2*i:])]
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(le16(src[2*i:]))
		}
	case Q8_0:
		for b := 0; b < len(dst)/qk0; b++ {
			dequantQ8_0(dst[b*qk0:(b+1)*qk0], src[b*q80Bytes:(b+1)*q80Bytes])
		}
	case Q4_0:
		for b := 0; b < len(dst)/qk0; b++ {
			dequantQ4_0(dst[b*qk0:(b+1)*qk0], src[b*q40Bytes:(b+1)*q40Bytes])
		}
	case Q4_K:
		for b := 0; b < len(dst)/qkK; b++ {
			dequantQ4K(dst[b*qkK:(b+1)*qkK], src[b*q4KBytes:(b+1)*q4KBytes])
		}
	case Q5_K:
		for b := 0; b < len(dst)/qkK; b++ {
			dequantQ5K(dst[b*qkK:(b+1)*qkK], src[b*q5KBytes:(b+1)*q5KBytes])
		}
	case Q6_K:
		for b := 0; b < len(dst)/qkK; b++ {
			dequantQ6K(dst[b*qkK:(b+1)*qkK], src[b*q6KBytes:(b+1)*q6KBytes])
		}
	case Q4_1, Q5_0, Q5_1, IQ4_NL:
		bb := t.BlockBytes()
		for b := 0; b < len(dst)/qk0; b++ {
			dequantLegacy(t, dst[b*qk0:(b+1)*qk0], src[b*bb:(b+1)*bb])
		}
	case Q8_K:
		for b := 0; b < len(dst)/qkK; b++ {
			blk := src[b*q8KBytes : (b+1)*q8KBytes]
			d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
			for i := range qkK {
				dst[b*qkK+i] = d * float32(int8(blk[4+i]))
			}
		}
	}
	return nil
}

// Quantize encodes src into dst, which must be exactly the encoded size of
// len(src) values of type t. The quantisers are simple and exact about the
// format; they do not search for the best scales as an offline tool would.
func Quantize(t Type, dst []byte, src []float32) error {
	rb, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if rb != len(dst) {
		return fmt.Errorf("quantize %s: %w: %d values need %d bytes, have %d", t, ErrShape, len(src), rb, len(dst))
	}
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			put16(dst[2*i:], F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			put16(dst[2*i:], F32ToBF16(v))
		}
	case Q8_0:
		for b := 0; b < len(src)/qk0; b++ {
			quantQ8_0(dst[b*q80Bytes:(b+1)*q80Bytes], src[b*qk0:(b+1)*qk0])
		}
	case Q4_0:
		for b := 0; b < len(src)/qk0; b++ {
			quantQ4_0(dst[b*q40Bytes:(b+1)*q40Bytes], src[b*qk0:(b+1)*qk0])
		}
	case Q4_K:
		for b := 0; b < len(src)/qkK; b++ {
			quantQ4K(dst[b*q4KBytes:(b+1)*q4KBytes], src[b*qkK:(b+1)*qkK])
		}
	case Q5_K:
		for b := 0; b < len(src)/qkK; b++ {
			quantQ5K(dst[b*q5KBytes:(b+1)*q5KBytes], src[b*qkK:(b+1)*qkK])
		}
	case Q6_K:
		for b := 0; b < len(src)/qkK; b++ {
			quantQ6K(dst[b*q6KBytes:(b+1)*q6KBytes], src[b*qkK:(b+1)*qkK])
		}
	case Q4_1, Q5_0, Q5_1, IQ4_NL:
		bb := t.BlockBytes()
		for b := 0; b < len(src)/qk0; b++ {
			quantLegacy(t, dst[b*bb:(b+1)*bb], src[b*qk0:(b+1)*qk0])
		}
	case Q8_K:
		for b := 0; b < len(src)/qkK; b++ {
			blk := dst[b*q8KBytes : (b+1)*q8KBytes]
			var qs [qkK]int8
			var sums [qkK / 16]int16
			d := quantRowQ8K(qs[:], sums[:], src[b*qkK:(b+1)*qkK])
			binary.LittleEndian.PutUint32(blk, math.Float32bits(d))
			for i, q := range qs {
				blk[4+i] = byte(q)
			}
			for i, s := range sums {
				put16(blk[4+qkK+2*i:], uint16(s))
			}
		}
	}
	return nil
}

// roundInt rounds half away from zero, the rounding the reference quantisers use.
func roundInt(v float32) int { return int(math.Round(float64(v))) }

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// signedAbsMax returns the value of largest magnitude, keeping its sign.
func signedAbsMax(x []float32) float32 {
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, m = a, v
		}
	}
	return m
}

func dequantQ8_0(dst []float32, b []byte) {
	d := f16Table[le16(b)]
	for i := range qk0 {
		dst[i] = d * float32(int8(b[2+i]))
	}
}

func quantQ8_0(dst []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	put16(dst, F32ToF16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for i, v := range x {
		dst[2+i] = byte(int8(clampInt(roundInt(v*id), -127, 127)))
	}
}

// Q4_0 stores value i of a block in the low nibble of byte i and value i+16
// in the high nibble, as q-8 times the scale.
func dequantQ4_0(dst []float32, b []byte) {
	d := f16Table[le16(b)]
	for i := range qk0 / 2 {
		q := b[2+i]
		dst[i] = d * float32(int(q&0xf)-8)
		dst[i+qk0/2] = d * float32(int(q>>4)-8)
	}
}

// quantQ4_0 encodes as ggml's reference quantiser does, byte for byte:
// the value of largest magnitude maps to -8, using the full range, and a
// quant is min(15, trunc(x/d + 8.5)) in float32.
func quantQ4_0(dst []byte, x []float32) {
	d := signedAbsMax(x) / -8
	put16(dst, F32ToF16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	q := func(v float32) byte {
		return byte(clampInt(int(float32(v*id)+8.5), 0, 15))
	}
	for i := range qk0 / 2 {
		dst[2+i] = q(x[i]) | q(x[i+qk0/2])<<4
	}
}
