package gguf_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
)

// vocabFile is the Llama 2 vocabulary GGUF in the shared test data.
var vocabFile = []string{"tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf"}

func vocabPath(tb testing.TB) string {
	tb.Helper()
	return shareddata.Path(tb, vocabFile...)
}

func TestOpenVocabulary(t *testing.T) {
	f, err := gguf.Open(vocabPath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })

	if f.Version() != 3 || f.Alignment() != 32 || len(f.Tensors()) != 0 {
		t.Errorf("version %d alignment %d tensors %d, want 3 32 0", f.Version(), f.Alignment(), len(f.Tensors()))
	}
	if got := f.Architecture(); got != "llama" {
		t.Errorf("architecture %q", got)
	}
	if got, _ := f.String(gguf.KeyTokenizerModel); got != gguf.TokenizerLlama {
		t.Errorf("tokenizer model %q", got)
	}
	tokens, ok := f.Strings(gguf.KeyTokens)
	if !ok || len(tokens) != 32000 {
		t.Fatalf("tokens: ok %v len %d, want 32000", ok, len(tokens))
	}
	for id, want := range map[int]string{0: "<unk>", 1: "<s>", 2: "</s>", 3: "<0x00>", 13: "<0x0A>", 258: "<0xFF>", 259: "▁▁"} {
		if tokens[id] != want {
			t.Errorf("token %d = %q, want %q", id, tokens[id], want)
		}
	}
	scores, ok := f.Float32s(gguf.KeyScores)
	if !ok || len(scores) != 32000 {
		t.Errorf("scores: ok %v len %d", ok, len(scores))
	}
	types, ok := f.Int32s(gguf.KeyTokenType)
	if !ok || len(types) != 32000 || types[0] != 2 || types[1] != 3 || types[3] != 6 || types[259] != 1 { // unknown, control, byte, normal
		t.Errorf("token types: ok %v len %d head %v", ok, len(types), types[:4])
	}
	for key, want := range map[string]uint64{
		gguf.KeyBOSID: 1, gguf.KeyEOSID: 2, gguf.KeyUnknownID: 0,
		"llama.context_length": 4096, "llama.block_count": 32, "llama.vocab_size": 32000,
	} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
		}
	}
	if eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || float32(eps) != 1e-5 {
		t.Errorf("rms epsilon %v %v", eps, ok)
	}
	if add, ok := f.Bool(gguf.KeyAddBOS); !ok || !add {
		t.Errorf("add_bos_token %v %v", add, ok)
	}

	// Parse of the same bytes agrees with Open.
	data, err := os.ReadFile(vocabPath(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Keys(), f.Keys()) {
		t.Errorf("Parse keys %v differ from Open keys %v", p.Keys(), f.Keys())
	}
}

// TestOpenErrors checks that Open names the file and passes errors through.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          error
	}{
		{"empty", "", gguf.ErrTruncated},
		{"short", "GGU", gguf.ErrTruncated},
		{"text", "hello, world, this is not a model", gguf.ErrMagic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := gguf.Open(p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(p)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := gguf.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestTensorTypeTable(t *testing.T) {
	for _, tc := range []struct {
		typ         gguf.TensorType
		name        string
		block, size int
	}{
		{gguf.TypeF32, "F32", 1, 4},
		{gguf.TypeF16, "F16", 1, 2},
		{gguf.TypeBF16, "BF16", 1, 2},
		{gguf.TypeQ4_0, "Q4_0", 32, 18},
		{gguf.TypeQ4_1, "Q4_1", 32, 20},
		{gguf.TypeQ5_0, "Q5_0", 32, 22},
		{gguf.TypeQ5_1, "Q5_1", 32, 24},
		{gguf.TypeQ8_0, "Q8_0", 32, 34},
		{gguf.TypeQ2_K, "Q2_K", 256, 84},
		{gguf.TypeQ3_K, "Q3_K", 256, 110},
		{gguf.TypeQ4_K, "Q4_K", 256, 144},
		{gguf.TypeQ5_K, "Q5_K", 256, 176},
		{gguf.TypeQ6_K, "Q6_K", 256, 210},
		{gguf.TypeQ8_K, "Q8_K", 256, 292},
		{gguf.TypeIQ4_XS, "IQ4_XS", 256, 136},
		{gguf.TypeIQ4_NL, "IQ4_NL", 32, 18},
		{gguf.TensorType(4), "type(4)", 0, 0},
		{gguf.TensorType(1000), "type(1000)", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.typ.String() != tc.name || tc.typ.BlockSize() != tc.block || tc.typ.TypeSize() != tc.size {
				t.Errorf("%d: %s %d %d, want %s %d %d", uint32(tc.typ), tc.typ, tc.typ.BlockSize(), tc.typ.TypeSize(), tc.name, tc.block, tc.size)
			}
			if tc.typ.Known() != (tc.block > 0) {
				t.Errorf("Known() = %v", tc.typ.Known())
			}
			if back, ok := gguf.ParseTensorType(tc.name); ok != tc.typ.Known() || (ok && back != tc.typ) {
				t.Errorf("ParseTensorType(%q) = %v %v", tc.name, back, ok)
			}
		})
	}
}

// writeFile runs build against a fresh Writer and returns the bytes.
func writeFile(tb testing.TB, build func(w *gguf.Writer) error) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	if err := build(w); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func mustValue(tb testing.TB, x any) gguf.Value {
	tb.Helper()
	v, err := gguf.ValueOf(x)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestMetadataRoundTrip(t *testing.T) {
	nested := []gguf.Value{mustValue(t, []int32{1, -2}), mustValue(t, []int32{}), mustValue(t, []int32{3})}
	deep := mustValue(t, []gguf.Value{mustValue(t, nested), mustValue(t, []gguf.Value{mustValue(t, []int32{4})})})
	strArrays := []gguf.Value{mustValue(t, []string{"a", ""}), mustValue(t, []string{"héllo"})}
	cases := []struct {
		name string
		in   any
		typ  gguf.ValueType
		// check reads the value back through the accessors.
		check func(v gguf.Value) bool
	}{
		{"uint8", uint8(255), gguf.ValueUint8, func(v gguf.Value) bool { u, ok := v.Uint(); return ok && u == 255 }},
		{"int8", int8(-128), gguf.ValueInt8, func(v gguf.Value) bool { i, ok := v.Int(); return ok && i == -128 }},
		{"uint16", uint16(65535), gguf.ValueUint16, func(v gguf.Value) bool { u, ok := v.Uint(); return ok && u == 65535 }},
		{"int16", int16(-32768), gguf.ValueInt16, func(v gguf.Value) bool { i, ok := v.Int(); return ok && i == -32768 }},
		{"uint32", uint32(math.MaxUint32), gguf.ValueUint32, func(v gguf.Value) bool { u, ok := v.Uint(); return ok && u == math.MaxUint32 }},
		{"int32", int32(math.MinInt32), gguf.ValueInt32, func(v gguf.Value) bool {
			i, ok := v.Int()
			_, uok := v.Uint()
			return ok && i == math.MinInt32 && !uok
		}},
		{"uint64", uint64(math.MaxUint64), gguf.ValueUint64, func(v gguf.Value) bool {
			u, ok := v.Uint()
			_, iok := v.Int()
			return ok && u == math.MaxUint64 && !iok
		}},
		{"int64", int64(math.MinInt64), gguf.ValueInt64, func(v gguf.Value) bool { i, ok := v.Int(); return ok && i == math.MinInt64 }},
		{"float32", float32(1e-5), gguf.ValueFloat32, func(v gguf.Value) bool { f, ok := v.Float(); return ok && float32(f) == 1e-5 }},
		{"float64", math.Pi, gguf.ValueFloat64, func(v gguf.Value) bool { f, ok := v.Float(); return ok && f == math.Pi }},
		{"bool true", true, gguf.ValueBool, func(v gguf.Value) bool { b, ok := v.Bool(); return ok && b }},
		{"bool false", false, gguf.ValueBool, func(v gguf.Value) bool { b, ok := v.Bool(); return ok && !b }},
		{"string", "héllo\x00world", gguf.ValueString, func(v gguf.Value) bool { s, ok := v.Text(); return ok && s == "héllo\x00world" }},
		{"empty string", "", gguf.ValueString, func(v gguf.Value) bool { s, ok := v.Text(); return ok && s == "" }},
		{"[]uint8", []uint8{0, 7, 255}, gguf.ValueArray, func(v gguf.Value) bool { return arrayIs(v, gguf.ValueUint8, []uint64{0, 7, 255}) }},
		{"[]int8", []int8{-1, 1}, gguf.ValueArray, func(v gguf.Value) bool { return int32sAre(v, gguf.ValueInt8, -1, 1) }},
		{"[]uint16", []uint16{1, 65535}, gguf.ValueArray, func(v gguf.Value) bool { return arrayIs(v, gguf.ValueUint16, []uint64{1, 65535}) }},
		{"[]int16", []int16{-5, 5}, gguf.ValueArray, func(v gguf.Value) bool { return int32sAre(v, gguf.ValueInt16, -5, 5) }},
		{"[]uint32", []uint32{1, 2, 3}, gguf.ValueArray, func(v gguf.Value) bool { return arrayIs(v, gguf.ValueUint32, []uint64{1, 2, 3}) }},
		{"[]int32", []int32{-1, 0, math.MaxInt32}, gguf.ValueArray, func(v gguf.Value) bool { return int32sAre(v, gguf.ValueInt32, -1, 0, math.MaxInt32) }},
		{"[]uint64", []uint64{math.MaxUint64}, gguf.ValueArray, func(v gguf.Value) bool { return arrayIs(v, gguf.ValueUint64, []uint64{math.MaxUint64}) }},
		{"[]int64", []int64{-9, 9}, gguf.ValueArray, func(v gguf.Value) bool { return int32sAre(v, gguf.ValueInt64, -9, 9) }},
		{"[]float32", []float32{0.5, -2, float32(math.Inf(1))}, gguf.ValueArray, func(v gguf.Value) bool {
			f, ok := v.Float32s()
			return ok && reflect.DeepEqual(f, []float32{0.5, -2, float32(math.Inf(1))})
		}},
		{"[]float64", []float64{0.25, 1e300}, gguf.ValueArray, func(v gguf.Value) bool {
			f, ok := v.Float32s()
			return ok && f[0] == 0.25 && v.ElemType() == gguf.ValueFloat64
		}},
		{"[]bool", []bool{true, false, true}, gguf.ValueArray, func(v gguf.Value) bool {
			vals, ok := v.Values()
			if !ok || len(vals) != 3 {
				return false
			}
			a, _ := vals[0].Bool()
			b, _ := vals[1].Bool()
			return a && !b
		}},
		{"[]string", []string{"<unk>", "", "▁the"}, gguf.ValueArray, func(v gguf.Value) bool {
			s, ok := v.Strings()
			return ok && reflect.DeepEqual(s, []string{"<unk>", "", "▁the"})
		}},
		{"empty []string", []string{}, gguf.ValueArray, func(v gguf.Value) bool { s, ok := v.Strings(); return ok && len(s) == 0 }},
		{"[][]int32", nested, gguf.ValueArray, func(v gguf.Value) bool {
			vals, ok := v.Values()
			if !ok || len(vals) != 3 || v.ElemType() != gguf.ValueArray {
				return false
			}
			return int32sAre(vals[0], gguf.ValueInt32, 1, -2) && int32sAre(vals[1], gguf.ValueInt32) && int32sAre(vals[2], gguf.ValueInt32, 3)
		}},
		{"[][]string", strArrays, gguf.ValueArray, func(v gguf.Value) bool {
			vals, ok := v.Values()
			if !ok || len(vals) != 2 {
				return false
			}
			s, _ := vals[1].Strings()
			return reflect.DeepEqual(s, []string{"héllo"})
		}},
		{"[][][]int32", deep, gguf.ValueArray, func(v gguf.Value) bool {
			outer, ok := v.Values()
			if !ok || len(outer) != 2 {
				return false
			}
			mid, ok := outer[1].Values()
			return ok && len(mid) == 1 && int32sAre(mid[0], gguf.ValueInt32, 4)
		}},
	}
	data := writeFile(t, func(w *gguf.Writer) error {
		for _, tc := range cases {
			if err := w.Set("test."+tc.name, tc.in); err != nil {
				return err
			}
		}
		return nil
	})
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Keys()) != len(cases) {
		t.Errorf("%d keys, want %d", len(f.Keys()), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "test." + tc.name
			if f.Keys()[i] != key {
				t.Errorf("key %d is %q, want %q (order kept)", i, f.Keys()[i], key)
			}
			v, ok := f.Value(key)
			if !ok {
				t.Fatalf("%s missing", key)
			}
			if v.Type() != tc.typ {
				t.Errorf("type %s, want %s", v.Type(), tc.typ)
			}
			if !tc.check(v) {
				t.Errorf("value read back wrong: %v", v)
			}
			// Re-writing the read value reproduces the same encoding.
			again := writeFile(t, func(w *gguf.Writer) error { return w.Set(key, v) })
			first := writeFile(t, func(w *gguf.Writer) error { return w.Set(key, tc.in) })
			if !bytes.Equal(again, first) {
				t.Errorf("re-encoding differs")
			}
		})
	}
}

func arrayIs(v gguf.Value, elem gguf.ValueType, want []uint64) bool {
	vals, ok := v.Values()
	if !ok || v.ElemType() != elem || v.Len() != len(want) {
		return false
	}
	for i, e := range vals {
		if u, ok := e.Uint(); !ok || u != want[i] {
			return false
		}
	}
	return true
}

func int32sAre(v gguf.Value, elem gguf.ValueType, want ...int32) bool {
	got, ok := v.Int32s()
	return ok && v.ElemType() == elem && len(got) == len(want) && (len(want) == 0 || reflect.DeepEqual(got, want))
}

func TestAccessorTypeMismatch(t *testing.T) {
	data := writeFile(t, func(w *gguf.Writer) error {
		_ = w.Set("s", "text")
		_ = w.Set("u", uint32(5))
		_ = w.Set("neg", int32(-1))
		_ = w.Set("big", []int64{1 << 40})
		return w.Set("f", []float32{1})
	})
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Uint("s"); ok {
		t.Error("Uint of a string")
	}
	if _, ok := f.String("u"); ok {
		t.Error("String of a uint32")
	}
	if _, ok := f.Uint("neg"); ok {
		t.Error("Uint of -1")
	}
	if _, ok := f.Int32s("big"); ok {
		t.Error("Int32s of values beyond int32")
	}
	if _, ok := f.Strings("f"); ok {
		t.Error("Strings of a float array")
	}
	if _, ok := f.Bool("missing"); ok {
		t.Error("Bool of a missing key")
	}
	if u, ok := f.Float("u"); !ok || u != 5 {
		t.Errorf("Float of uint32 5 = %v %v", u, ok)
	}
}
