package kernels

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden pins the encoded bytes of a fixed input for every type
// (<type>.bin) and the values they decode to (<type>.f32, little-endian
// float32), so a change to a quantiser, a decoder or a layout shows up as
// a diff. The decoded values must also stay within the type's error of
// the input, so a golden file written from a broken decoder fails too.
// The layouts themselves are checked independently by TestLayouts.
func TestGolden(t *testing.T) {
	x := randVec(rand.New(rand.NewPCG(21, 22)), 512, 1)
	var amax float64
	for _, v := range x {
		amax = max(amax, math.Abs(float64(v)))
	}
	// Largest error of a decoded value, relative to max|x|; the errors
	// measured are a quarter to a half of these.
	tolerance := map[Type]float64{
		F32: 0, F16: 1e-3, BF16: 8e-3, Q8_0: 8e-3, Q4_0: 0.12,
		Q4_K: 0.08, Q5_K: 0.04, Q6_K: 0.03, Q8_K: 8e-3,
		Q4_1: 0.07, Q5_0: 0.06, Q5_1: 0.035, IQ4_NL: 0.1,
	}
	for _, ty := range append(weightTypes, Q8_K) {
		t.Run(ty.String(), func(t *testing.T) {
			rb, err := ty.RowBytes(len(x))
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, rb)
			if err := Quantize(ty, got, x); err != nil {
				t.Fatal(err)
			}
			want := golden(t, ty.String()+".bin", got)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding of %s changed: %d bytes differ from the golden file", ty, len(got))
			}

			y := make([]float32, len(x))
			if err := Dequantize(ty, y, want); err != nil {
				t.Fatal(err)
			}
			yb := make([]byte, 4*len(y))
			for i, v := range y {
				binary.LittleEndian.PutUint32(yb[4*i:], math.Float32bits(v))
			}
			wantY := golden(t, ty.String()+".f32", yb)
			if len(wantY) != len(yb) {
				t.Fatalf("golden values: %d bytes, want %d", len(wantY), len(yb))
			}
			for i, v := range y {
				w := math.Float32frombits(binary.LittleEndian.Uint32(wantY[4*i:]))
				if math.Float32bits(v) != math.Float32bits(w) {
					t.Fatalf("decoded value %d = %g, golden %g", i, v, w)
				}
				if d := math.Abs(float64(w - x[i])); d > tolerance[ty]*amax {
					t.Fatalf("golden value %d = %g is %g from the input %g (tolerance %g)", i, w, d, x[i], tolerance[ty]*amax)
				}
			}
		})
	}
}

// golden returns the contents of testdata/golden/name, first writing got
// there when -update is set.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	return want
}
