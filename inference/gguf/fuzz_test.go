package gguf_test

import (
	"errors"
	"os"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
)

// FuzzParse feeds the reader real files, writer output, and truncated and
// bit-flipped variants. Any input must either parse into a file whose every
// accessor works, or fail with a *FormatError; never panic. The whole
// vocabulary file is too big for the fuzzer to mutate quickly, so it seeds
// with prefixes; TestRealFileVariants runs the whole file's variants.
func FuzzParse(f *testing.F) {
	var seeds [][]byte
	if p, ok := shareddata.Lookup(f, vocabFile...); ok {
		vocab, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, vocab[:2048], vocab[:16384])
	}
	small, err := os.ReadFile("testdata/small.gguf")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, small, small[:len(small)-40], small[:100])
	// A file from llama.cpp's Python writer: alignment 64, every value type.
	foreign, err := os.ReadFile("testdata/ggufpy.gguf")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, foreign[:4096])
	for _, s := range append([][]byte(nil), seeds...) {
		seeds = append(seeds, variants(s)...)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(checkParse)
}

// TestRealFileVariants runs the fuzz check on the whole vocabulary file and
// on truncated and bit-flipped copies of it.
func TestRealFileVariants(t *testing.T) {
	vocab, err := os.ReadFile(vocabPath(t))
	if err != nil {
		t.Fatal(err)
	}
	checkParse(t, vocab)
	for _, v := range variants(vocab) {
		checkParse(t, v)
	}
	for _, n := range []int{0, 3, 23, 24, 100, 5000, len(vocab) / 3, len(vocab) - 1} {
		checkParse(t, vocab[:n])
	}
}

// variants returns copies of s with single bits flipped in the header, in
// the first metadata entry, in the middle and near the end.
func variants(s []byte) [][]byte {
	var out [][]byte
	for _, bit := range []int{5 * 8, 17*8 + 3, 30 * 8, 45*8 + 6, 200*8 + 1, len(s)*8/2 + 7, len(s)*8 - 9} {
		if bit >= 0 && bit/8 < len(s) {
			flipped := append([]byte(nil), s...)
			flipped[bit/8] ^= 1 << (bit % 8)
			out = append(out, flipped)
		}
	}
	return out
}

func checkParse(t *testing.T, data []byte) {
	gf, err := gguf.Parse(data)
	if err != nil {
		var fe *gguf.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is not a *FormatError", err)
		}
		return
	}
	exercise(t, gf, len(data))
}

// exercise calls every accessor of a parsed file and checks invariants.
func exercise(t *testing.T, f *gguf.File, size int) {
	t.Helper()
	for _, k := range f.Keys() {
		v, ok := f.Value(k)
		if !ok {
			t.Fatalf("key %q listed but absent", k)
		}
		_ = v.String()
		_, _ = f.Uint(k)
		_, _ = f.Int(k)
		_, _ = f.Float(k)
		_, _ = f.Bool(k)
		_, _ = f.String(k)
		if v.Type() == gguf.ValueArray {
			vals, ok := v.Values()
			if !ok || len(vals) != v.Len() {
				t.Fatalf("key %q: Values() = %d, %v for length %d", k, len(vals), ok, v.Len())
			}
			if s, ok := f.Strings(k); ok != (v.ElemType() == gguf.ValueString) || (ok && len(s) != v.Len()) {
				t.Fatalf("key %q: Strings() ok=%v for %s array", k, ok, v.ElemType())
			}
			_, _ = f.Float32s(k)
			_, _ = f.Int32s(k)
		}
	}
	for _, tn := range f.Tensors() {
		if uint64(len(tn.Data())) != tn.Size {
			t.Fatalf("tensor %q: %d data bytes, size %d", tn.Name, len(tn.Data()), tn.Size)
		}
		if tn.Size > uint64(size) {
			t.Fatalf("tensor %q larger than the file", tn.Name)
		}
	}
	_ = f.Architecture()
}
