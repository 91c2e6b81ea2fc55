package kernels

import "math"

// f16Table maps every half-float bit pattern to its float32 value; the
// portable kernels read it instead of decoding bits in the inner loops.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16Decode(uint16(i))
	}
	return &t
}()

// f16Decode converts IEEE 754 binary16 bits to float32 exactly.
func f16Decode(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0: // zero or subnormal: mant × 2^-24
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// F16ToF32 converts half-float bits to float32.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// F32ToF16 converts a float32 to half-float bits, rounding to nearest even;
// values too large become infinity.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // a carry into the exponent is the correct rounding
	}
	return sign | uint16(half)
}

// BF16ToF32 converts bfloat16 bits to float32.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts a float32 to bfloat16 bits, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it quiet
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }

// roundF16Go sets dst[i] to src[i] rounded to the nearest f16 value.
func roundF16Go(dst, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = f16Table[F32ToF16(v)]
	}
}

// roundBF16Go sets dst[i] to src[i] rounded to the nearest bf16 value.
func roundBF16Go(dst, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = BF16ToF32(F32ToBF16(v))
	}
}

// toHalfFast is ToHalf's assembly (F16C) for a multiple of 8 values, set
// by installOps at AVX2 and above.
var toHalfFast func(dst *uint16, src *float32, n int)

// ToHalf sets dst[i] = F32ToF16(src[i]) for every i < len(src); dst must
// be at least as long. The KV cache converts every key and value it
// stores: one vector instruction per 8 values instead of F32ToF16's
// branches per value.
func ToHalf(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if accel && toHalfFast != nil {
		if n = len(src) &^ 7; n > 0 {
			toHalfFast(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = F32ToF16(src[i])
	}
}
