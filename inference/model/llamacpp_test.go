package model_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/shareddata"
)

// storiesTypes gives each tensor of stories260K the type llama.cpp's
// llama-quantize gives it for a target: ffn_down rows of 172 values fit no
// 32-value block, so they stay F16 in the quantised files; norms stay F32.
func storiesTypes(target gguf.TensorType) func(name string, shape []uint64) gguf.TensorType {
	return func(name string, shape []uint64) gguf.TensorType {
		switch {
		case len(shape) < 2 || target == gguf.TypeF32:
			return gguf.TypeF32
		case target != gguf.TypeF16 && strings.HasSuffix(name, gguf.LayerFFNDown+".weight"):
			return gguf.TypeF16
		}
		return target
	}
}

// reencode writes src's metadata and tensors to dst, each tensor encoded
// as typeOf says by this package's own quantisers (src is F32).
func reencode(t testing.TB, src, dst string, typeOf func(name string, shape []uint64) gguf.TensorType) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, w := createCopy(t, f, dst)
	defer out.Close()
	data := map[string][]byte{}
	for _, tn := range f.Tensors() {
		if tn.Type != gguf.TypeF32 {
			t.Fatalf("%s: type %s, want F32", tn.Name, tn.Type)
		}
		typ := typeOf(tn.Name, tn.Shape)
		kt, ok := model.KernelType(typ)
		if !ok {
			t.Fatalf("no kernel type for %s", typ)
		}
		vals := make([]float32, tn.Elements)
		if err := kernels.Dequantize(kernels.F32, vals, tn.Data()); err != nil {
			t.Fatal(err)
		}
		size, err := kt.RowBytes(len(vals))
		if err != nil {
			t.Fatalf("%s: %v", tn.Name, err)
		}
		enc := make([]byte, size)
		if err := kernels.Quantize(kt, enc, vals); err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(tn.Name, typ, tn.Shape...); err != nil {
			t.Fatal(err)
		}
		data[tn.Name] = enc
	}
	for _, tn := range f.Tensors() {
		if err := w.WriteTensor(tn.Name, data[tn.Name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStoriesLlamaCppIDs runs stories260K re-encoded by our own writer in
// F32, F16, Q8_0 and Q4_0 (with the tensor types llama.cpp's tools give
// each file) and compares the 200 greedy ids from BOS with those that
// llama.cpp's AVX2 build produced on files written by its own tools
// (testdata/stories260K_llamacpp_ids.txt says how), with every kernel
// level this machine runs. Our quantisers write the same bytes as
// llama.cpp's reference ones, and our products round activations as
// ggml's do, so the ids agree although the float arithmetic is not bit for
// bit the same. The assembly levels must give all 200 ids; the portable
// kernels add each block's scaled sum to one float32 total where ggml's
// AVX2 code keeps eight partial sums, and on the Q8_0 file that order
// alone moves a near-tie at index 135 (where llama.cpp's own AVX-512 build
// parts from its AVX2 build), so they must give the first 100.
func TestStoriesLlamaCppIDs(t *testing.T) {
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	f32 := filepath.Join(t.TempDir(), "stories260K-f32.gguf")
	if err := llama2c.ConvertFile(bin, f32, "", llama2c.Options{}); err != nil {
		t.Fatal(err)
	}
	want := llamaCppIDs(t, filepath.Join("testdata", "stories260K_llamacpp_ids.txt"))
	for _, typ := range []gguf.TensorType{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		for l := range kernels.Available() + 1 {
			t.Run(typ.String()+"/"+l.String(), func(t *testing.T) {
				useLevel(t, l)
				match := 200
				if l == kernels.Portable {
					match = 100
				}
				storiesIDs(t, f32, typ, want, match)
			})
		}
	}
}

// storiesIDs re-encodes the F32 file f32 as typ and checks that the first
// match greedy ids are llama.cpp's.
func storiesIDs(t *testing.T, f32 string, typ gguf.TensorType, want map[string][]int32, match int) {
	{
		{
			ids, ok := want[strings.ToLower(typ.String())]
			if !ok || len(ids) != 200 {
				t.Fatalf("golden file: %d ids for %s, want 200", len(ids), typ)
			}
			path := filepath.Join(t.TempDir(), "model.gguf")
			reencode(t, f32, path, storiesTypes(typ))
			if dir := os.Getenv("CORRAL_LLAMACPP_MODELS"); dir != "" {
				sameTensors(t, path, filepath.Join(dir, "stories260K-"+strings.ToLower(typ.String())+".gguf"))
			}
			m, err := model.Open(path, model.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			kv := newCache(t, m, 1, len(ids))
			tok := int32(1)
			for pos, w := range ids {
				logits, err := m.Forward(context.Background(), []model.Entry{{Pos: pos, Token: tok, Logits: true}}, kv)
				if err != nil {
					t.Fatal(err)
				}
				tok = argmax(logits)
				if tok != w {
					if pos < match {
						t.Fatalf("position %d: id %d, llama.cpp %d", pos, tok, w)
					}
					t.Logf("ids part from llama.cpp's at position %d (id %d, llama.cpp %d)", pos, tok, w)
					return
				}
			}
		}
	}
}

// llamaCppIDs reads "type: id id ..." lines, skipping '#' lines.
func llamaCppIDs(t testing.TB, path string) map[string][]int32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int32{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		for _, w := range strings.Fields(rest) {
			var id int32
			if _, err := fmt.Sscan(w, &id); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out[name] = append(out[name], id)
		}
	}
	return out
}

// sameTensors checks that two GGUF files hold the same tensors, types and
// bytes (our writer against llama.cpp's, when its files are at hand).
func sameTensors(t testing.TB, ours, theirs string) {
	t.Helper()
	a, err := gguf.Open(ours)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := gguf.Open(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, ta := range a.Tensors() {
		tb, ok := b.Tensor(ta.Name)
		if !ok {
			t.Errorf("%s: not in %s", ta.Name, theirs)
			continue
		}
		if ta.Type != tb.Type || !bytes.Equal(ta.Data(), tb.Data()) {
			t.Errorf("%s: %s here, %s in %s; bytes equal: %v", ta.Name, ta.Type, tb.Type, theirs, bytes.Equal(ta.Data(), tb.Data()))
		}
	}
}

// createCopy creates dst as a GGUF writer that already holds every
// metadata key of f, for tests that rewrite a file's tensors.
func createCopy(t testing.TB, f *gguf.File, dst string) (*os.File, *gguf.Writer) {
	t.Helper()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter(out)
	for _, k := range f.Keys() {
		v, _ := f.Value(k)
		if err := w.Set(k, v); err != nil {
			out.Close()
			t.Fatal(err)
		}
	}
	return out, w
}
