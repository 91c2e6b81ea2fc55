package kernels

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden pins the encoded bytes of a fixed input for every type, so a
// change to a quantiser or to a layout shows up as a diff. The layouts
// themselves are checked independently by TestLayouts.
func TestGolden(t *testing.T) {
	x := randVec(rand.New(rand.NewPCG(21, 22)), 512, 1)
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
			path := filepath.Join("testdata", "golden", ty.String()+".bin")
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
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding of %s changed: %d bytes differ from %s", ty, len(got), path)
			}
			y := make([]float32, len(x))
			if err := Dequantize(ty, y, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}
