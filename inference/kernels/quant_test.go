package kernels

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * scale
	}
	return x
}

// weightTypes are the formats a Matrix may hold.
var weightTypes = []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q4_1, Q5_0, Q5_1, IQ4_NL}

func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToF32(uint16(h))
		if f != f { // NaN payloads are not preserved bit for bit
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x) = %g) = %#04x", h, f, got)
		}
	}
	cases := []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff}, {65520, 0x7c00},
		{5.960464477539063e-08, 0x0001}, {2.9e-08, 0x0000}, {3.0e-08, 0x0001},
		{float32(math.Inf(-1)), 0xfc00}, {1.0009765625, 0x3c01}, {1.00048828125, 0x3c00},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	for _, f := range []float32{1, -3.5, 0x1p100, 1.0078125} {
		if got := BF16ToF32(F32ToBF16(f)); got != f {
			t.Errorf("bf16 round trip of %g gave %g", f, got)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{{1.005859375, 0x3f81}, {1.00390625, 0x3f80}, {1.01171875, 0x3f82}} { // nearest, then two ties to even
		if got := F32ToBF16(c.f); got != c.h {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
}

// TestLayouts checks hand-built blocks against values worked out from the
// published layouts, independently of the decoders.
func TestLayouts(t *testing.T) {
	one := uint16(0x3c00) // 1.0
	two := uint16(0x4000) // 2.0
	t.Run("Q8_0", func(t *testing.T) {
		b := make([]byte, q80Bytes)
		put16(b, two)
		b[2], b[2+31] = 0xff, 5 // -1, 5
		out := make([]float32, 32)
		mustDequant(t, Q8_0, out, b)
		want(t, out, map[int]float32{0: -2, 31: 10, 1: 0})
	})
	t.Run("Q4_0", func(t *testing.T) {
		b := make([]byte, q40Bytes)
		put16(b, two)
		for i := 2; i < len(b); i++ {
			b[i] = 0x88 // every value 0
		}
		b[2] = 0xf0 // value 0: 0-8, value 16: 15-8
		b[3] = 0x9a // value 1: 10-8, value 17: 9-8
		out := make([]float32, 32)
		mustDequant(t, Q4_0, out, b)
		want(t, out, map[int]float32{0: -16, 16: 14, 1: 4, 17: 2, 5: 0})
	})
	t.Run("Q4_K", func(t *testing.T) {
		b := make([]byte, q4KBytes)
		put16(b, one)
		put16(b[2:], two)
		// scale 0 = 3, min 0 = 1; scale 5 = 0x25 (low 5, high 2), min 5 = 0x13.
		b[4+0] = 3
		b[4+4] = 1
		b[4+1] |= (0x25 >> 4) << 6
		b[4+5] |= (0x13 >> 4) << 6
		b[4+8+1] = 0x25&0xf | (0x13&0xf)<<4
		qs := b[16:]
		qs[0] = 0x07      // value 0 = 7 (sub-block 0), value 32 = 0 (sub-block 1)
		qs[32*2+5] = 0xa0 // value 128+32+5 (sub-block 5) = 10
		out := make([]float32, 256)
		mustDequant(t, Q4_K, out, b)
		want(t, out, map[int]float32{0: 3*7 - 2*1, 32: 0, 165: 0x25*10 - 2*0x13, 164: -2 * 0x13})
	})
	t.Run("Q5_K", func(t *testing.T) {
		b := make([]byte, q5KBytes)
		put16(b, one)
		b[4+3] = 1 // scale 3 = 1, min 3 = 0
		qh := b[16:48]
		qs := b[48:]
		qs[32*1+2] = 0x30 // value 64+32+2 (sub-block 3) low bits 3
		qh[2] = 1 << 3    // its fifth bit: chunk 1, high half → bit 3
		out := make([]float32, 256)
		mustDequant(t, Q5_K, out, b)
		want(t, out, map[int]float32{98: 19, 66: 0})
	})
	t.Run("Q6_K", func(t *testing.T) {
		b := make([]byte, q6KBytes)
		put16(b[208:], two)
		for g := range 16 {
			b[192+g] = byte(int8(g - 8))
		}
		// second half (values 128-255): value 128+96+17 uses ql[64+32+17]
		// high nibble and qh[32+17] bits 6-7; its group is 241/16 = 15.
		b[64+32+17] = 0x50
		b[128+32+17] = 3 << 6 // q = 5 | 48 = 53
		// value 3 (group 0): ql[3] low nibble, qh[3] bits 0-1.
		b[3] = 0x01
		out := make([]float32, 256)
		mustDequant(t, Q6_K, out, b)
		want(t, out, map[int]float32{241: 2 * 7 * (53 - 32), 3: 2 * -8 * (1 - 32), 200: 2 * float32(int8(200/16-8)) * -32})
	})
}

func mustDequant(t *testing.T, ty Type, out []float32, b []byte) {
	t.Helper()
	if err := Dequantize(ty, out, b); err != nil {
		t.Fatal(err)
	}
}

func want(t *testing.T, got []float32, w map[int]float32) {
	t.Helper()
	for i, v := range w {
		if got[i] != v {
			t.Errorf("value %d = %g, want %g", i, got[i], v)
		}
	}
}

// TestQuantizeRoundTrip quantises random rows and checks each value comes
// back within the step the format allows.
func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Allowed error as a fraction of the largest magnitude in the row block.
	tol := map[Type]float64{F32: 0, F16: 1e-3, BF16: 8e-3, Q8_0: 1.0 / 127, Q4_0: 1.0 / 8, Q4_K: 0.15, Q5_K: 0.08, Q6_K: 0.035, Q8_K: 1.0 / 127,
		Q4_1: 0.075, Q5_0: 1.0 / 16, Q5_1: 0.04, IQ4_NL: 0.12}
	for _, ty := range append(weightTypes, Q8_K) {
		t.Run(ty.String(), func(t *testing.T) {
			for _, blocks := range []int{1, 3, 8} {
				n := blocks * ty.BlockSize()
				if ty.BlockSize() == 1 {
					n = 37 * blocks
				}
				x := randVec(r, n, 3)
				x[0] = 0
				rb, err := ty.RowBytes(n)
				if err != nil {
					t.Fatal(err)
				}
				enc := make([]byte, rb)
				if err := Quantize(ty, enc, x); err != nil {
					t.Fatal(err)
				}
				y := make([]float32, n)
				mustDequant(t, ty, y, enc)
				bs := max(ty.BlockSize(), 1)
				for b := 0; b < n; b += bs {
					var amax float64
					for _, v := range x[b:min(n, b+bs)] {
						amax = max(amax, math.Abs(float64(v)))
					}
					for i := b; i < min(n, b+bs); i++ {
						lim := tol[ty] * amax
						if ty.BlockSize() == 1 {
							lim = tol[ty] * math.Abs(float64(x[i]))
						}
						if d := math.Abs(float64(y[i] - x[i])); d > lim+1e-6 {
							t.Fatalf("%d blocks: value %d = %g, want %g ± %g", blocks, i, y[i], x[i], lim)
						}
					}
				}
			}
		})
	}
}

func TestQuantizeZeros(t *testing.T) {
	for _, ty := range append(weightTypes, Q8_K) {
		n := max(ty.BlockSize(), 8)
		rb, _ := ty.RowBytes(n)
		enc := make([]byte, rb)
		if err := Quantize(ty, enc, make([]float32, n)); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, n)
		mustDequant(t, ty, y, enc)
		for i, v := range y {
			if v != 0 {
				t.Fatalf("%s: zero row decodes to %g at %d", ty, v, i)
			}
		}
	}
}

func TestShapeErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"dequantize partial block", ErrShape, func() error { return Dequantize(Q4_0, make([]float32, 31), make([]byte, 18)) }},
		{"dequantize wrong bytes", ErrShape, func() error { return Dequantize(Q4_0, make([]float32, 32), make([]byte, 17)) }},
		{"quantize unknown type", ErrType, func() error { return Quantize(Type(200), nil, nil) }},
		{"matrix wrong size", ErrShape, func() error { _, err := NewMatrix(Q8_0, 2, 32, make([]byte, 34)); return err }},
		{"matrix of Q8_K", ErrType, func() error { _, err := NewMatrix(Q8_K, 1, 256, make([]byte, q8KBytes)); return err }},
		{"matrix partial block", ErrShape, func() error { _, err := NewMatrix(Q4_K, 1, 128, make([]byte, 72)); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.fn(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
	if Type(77).String() != "Type(77)" || Q4_K.String() != "Q4_K" {
		t.Error("type names")
	}
}
