package gguf_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model"
)

// TestGGUFPyFile reads testdata/ggufpy.gguf, written by llama.cpp's own
// Python writer (gguf-py at c392e5094, testdata/ggufpy_golden.py): a
// non-default alignment, a key of every value type, string and nested
// arrays, and for each tensor type the kernels run, two blocks of random
// bytes beside "<name>.expected", gguf-py's numpy dequantisation of them.
// Our decoding must give the same floats, bit for bit.
func TestGGUFPyFile(t *testing.T) {
	f, err := gguf.Open("testdata/ggufpy.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment() != 64 {
		t.Errorf("alignment %d, want 64", f.Alignment())
	}
	for key, want := range map[string]uint64{"test.u8": 200, "test.u16": 60000, "test.u32": 4000000000, "test.u64": 18000000000000000000} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, ok, want)
		}
	}
	for key, want := range map[string]int64{"test.i8": -100, "test.i16": -30000, "test.i32": -2000000000, "test.i64": -9000000000000000000} {
		if got, ok := f.Int(key); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, ok, want)
		}
	}
	for key, want := range map[string]float64{"test.f32": 0.15625, "test.f64": 1e300} {
		if got, ok := f.Float(key); !ok || got != want {
			t.Errorf("%s = %g, %v; want %g", key, got, ok, want)
		}
	}
	if b, ok := f.Bool("test.bool"); !ok || !b {
		t.Errorf("test.bool = %v, %v", b, ok)
	}
	if s, _ := f.String("test.string"); s != "héllo ✓" {
		t.Errorf("test.string = %q", s)
	}
	if s, _ := f.Strings("test.strings"); !reflect.DeepEqual(s, []string{"", "a", "▁the", "<0x0A>", "日本"}) {
		t.Errorf("test.strings = %q", s)
	}
	if v, _ := f.Float32s("test.floats"); !reflect.DeepEqual(v, []float32{0.5, -1.25, 3}) {
		t.Errorf("test.floats = %v", v)
	}
	var nested [][]int64
	outer, _ := f.Value("test.nested")
	rows, _ := outer.Values()
	for _, r := range rows {
		elems, _ := r.Values()
		var row []int64
		for _, e := range elems {
			n, _ := e.Int()
			row = append(row, n)
		}
		nested = append(nested, row)
	}
	if !reflect.DeepEqual(nested, [][]int64{{1, 2}, {3}}) {
		t.Errorf("test.nested = %v", nested)
	}

	checked := 0
	for _, tn := range f.Tensors() {
		if strings.HasSuffix(tn.Name, ".expected") {
			continue
		}
		t.Run(tn.Type.String(), func(t *testing.T) {
			exp, ok := f.Tensor(tn.Name + ".expected")
			if !ok {
				t.Fatalf("%s.expected missing", tn.Name)
			}
			kt, ok := model.KernelType(tn.Type)
			if !ok {
				t.Fatalf("%s: no kernel type", tn.Type)
			}
			got := make([]float32, tn.Elements)
			if err := kernels.Dequantize(kt, got, tn.Data()); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, exp.Elements)
			if err := kernels.Dequantize(kernels.F32, want, exp.Data()); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d of %d: %g, gguf-py %g", i, len(got), got[i], want[i])
				}
			}
		})
		checked++
	}
	if checked != 7 {
		t.Errorf("%d tensor types checked, want 7", checked)
	}
}
