package synth_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/tokenizer"
)

func tiny(tied bool, rope float64) synth.Shape {
	return synth.Shape{Name: "tiny", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 512, Vocab: 300,
		ContextLength: 128, RopeBase: 10000, Tied: tied, RopeScale: rope}
}

func write(t *testing.T, s synth.Spec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWrite(t *testing.T) {
	for _, typ := range synth.Types {
		for _, tied := range []bool{true, false} {
			name := typ.String()
			if !tied {
				name += "/untied"
			}
			t.Run(name, func(t *testing.T) {
				spec := synth.Spec{Shape: tiny(tied, 8), Type: typ, Seed: 3}
				f, err := gguf.Parse(write(t, spec))
				if err != nil {
					t.Fatal(err)
				}
				var data int64
				for _, tn := range f.Tensors() {
					data += int64(tn.Size)
					want := typ
					if len(tn.Shape) == 1 {
						want = gguf.TypeF32
					}
					if tn.Type != want {
						t.Errorf("%s: type %s, want %s", tn.Name, tn.Type, want)
					}
				}
				if data != spec.Size() {
					t.Errorf("tensor bytes %d, Size() %d", data, spec.Size())
				}
				checks := map[string][]uint64{
					gguf.TensorTokenEmbd:                    {256, 300},
					gguf.LayerTensor(1, gguf.LayerAttnK):    {256, 128},
					gguf.LayerTensor(1, gguf.LayerFFNDown):  {512, 256},
					gguf.LayerTensor(0, gguf.LayerAttnNorm): {256},
					gguf.TensorRopeFreqs:                    {32},
				}
				for name, shape := range checks {
					tn, ok := f.Tensor(name)
					if !ok || !equal(tn.Shape, shape) {
						t.Errorf("%s: %v, want shape %v", name, tn, shape)
					}
				}
				if _, ok := f.Tensor(gguf.TensorOutput); ok == tied {
					t.Errorf("output.weight present = %v with tied = %v", ok, tied)
				}
				if toks, _ := f.Strings(gguf.KeyTokens); len(toks) != 300 {
					t.Errorf("%d tokens, want 300", len(toks))
				}
				if n := f.LlamaParams().HeadCountKV; n != 2 {
					t.Errorf("head_count_kv %d", n)
				}
			})
		}
	}
}

func equal(a, b []uint64) bool {
	return len(a) == len(b) && (len(a) == 0 || (a[0] == b[0] && equal(a[1:], b[1:])))
}

func TestDeterministic(t *testing.T) {
	a := write(t, synth.Spec{Shape: tiny(true, 0), Type: gguf.TypeQ4_0, Seed: 1})
	b := write(t, synth.Spec{Shape: tiny(true, 0), Type: gguf.TypeQ4_0, Seed: 1})
	c := write(t, synth.Spec{Shape: tiny(true, 0), Type: gguf.TypeQ4_0, Seed: 2})
	if !bytes.Equal(a, b) {
		t.Fatal("equal specs gave different files")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same file")
	}
}

func TestSpecErrors(t *testing.T) {
	odd := tiny(true, 0)
	odd.Dim = 96 // not a multiple of 256
	heads := tiny(true, 0)
	heads.KVHeads = 3
	tests := []struct {
		name string
		spec synth.Spec
		want error
	}{
		{"row not a whole number of K blocks", synth.Spec{Shape: odd, Type: gguf.TypeQ4_K}, synth.ErrShape},
		{"heads not a multiple of KV heads", synth.Spec{Shape: heads, Type: gguf.TypeF16}, synth.ErrShape},
		{"unsupported type", synth.Spec{Shape: tiny(true, 0), Type: gguf.TypeQ2_K}, synth.ErrType},
		{"vocabulary of the wrong size", synth.Spec{Shape: tiny(true, 0), Type: gguf.TypeF16, Vocab: synth.PlaceholderVocab(301)}, synth.ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := synth.Write(&bytes.Buffer{}, tt.spec); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"llama-110m", "llama3-1b", "llama3-8b"} {
		s, err := synth.LookupShape(name)
		if err != nil || s.Name != name {
			t.Fatalf("LookupShape(%q) = %v, %v", name, s, err)
		}
	}
	s, _ := synth.LookupShape("llama3-8b")
	if s.Dim != 4096 || s.Layers != 32 || s.KVHeads != 8 || s.FFN != 14336 || s.Vocab != 128256 || s.Tied {
		t.Fatalf("llama3-8b shape %+v", s)
	}
	if _, err := synth.LookupShape("gpt-4"); !errors.Is(err, synth.ErrShape) {
		t.Fatalf("unknown shape: %v", err)
	}
	for in, want := range map[string]gguf.TensorType{"q8_0": gguf.TypeQ8_0, "Q4_K": gguf.TypeQ4_K, "f16": gguf.TypeF16, "q4_0": gguf.TypeQ4_0} {
		if got, err := synth.ParseType(in); err != nil || got != want {
			t.Fatalf("ParseType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := synth.ParseType("q3_k"); !errors.Is(err, synth.ErrType) {
		t.Fatalf("ParseType(q3_k): %v", err)
	}
}

// TestSizes checks the named shapes' sizes against the reference file sizes
// (llama.cpp's, from the README: 110m Q8_0 117 MB, Q4_0 62 MB, F16 220 MB;
// 1b Q8_0 1.3 GB, Q4_0 0.7 GB) without writing them.
func TestSizes(t *testing.T) {
	tests := []struct {
		shape  string
		typ    gguf.TensorType
		lo, hi float64 // MB
	}{
		{"llama-110m", gguf.TypeQ8_0, 115, 119},
		{"llama-110m", gguf.TypeQ4_0, 60, 64},
		{"llama-110m", gguf.TypeF16, 217, 223},
		{"llama3-1b", gguf.TypeQ8_0, 1250, 1350},
		{"llama3-1b", gguf.TypeQ4_0, 650, 750},
	}
	for _, tt := range tests {
		s, _ := synth.LookupShape(tt.shape)
		mb := float64(synth.Spec{Shape: s, Type: tt.typ}.Size()) / 1e6
		if mb < tt.lo || mb > tt.hi {
			t.Errorf("%s %s: %.0f MB, want %v-%v", tt.shape, tt.typ, mb, tt.lo, tt.hi)
		}
	}
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path, created, err := synth.EnsureDemo(dir)
	if err != nil || !created {
		t.Fatalf("EnsureDemo: %v, created %v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 8<<20 {
		t.Fatalf("demo model is %d bytes; keep it a few MB", st.Size())
	}
	if _, again, err := synth.EnsureDemo(dir); err != nil || again {
		t.Fatalf("second EnsureDemo: created %v, %v", again, err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := tokenizer.VocabFromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&v, synth.DemoVocab()) {
		t.Fatal("the vocabulary read from the demo file differs from DemoVocab()")
	}
	tok, err := tokenizer.FromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Hello, my friend! Once upon a time there was a little dog.", "zebra café"} {
		ids := tok.Encode(text, tokenizer.EncodeOptions{AddBOS: true})
		if ids[0] != tok.BOS() {
			t.Fatalf("%q: first id %d, want BOS", text, ids[0])
		}
		if got := tok.Decode(ids); got != text {
			t.Fatalf("round trip of %q gave %q", text, got)
		}
	}
	// Whole words from the list are single tokens.
	ids := tok.Encode("Once upon a time", tokenizer.EncodeOptions{})
	if len(ids) != 4 {
		t.Fatalf("\"Once upon a time\" is %d tokens (%v), want 4", len(ids), ids)
	}
	if tmpl, err := chattemplate.Detect(tok.ChatTemplate()); err != nil || tmpl != chattemplate.ChatML {
		t.Fatalf("demo chat template detected as %v, %v; want ChatML", tmpl, err)
	}
	checkDemoWords(t, path, tok)
}

// checkDemoWords samples from the demo model and wants whole words: the
// output steering must survive the random layers.
func checkDemoWords(t *testing.T, path string, tok *tokenizer.Tokenizer) {
	m, err := model.Open(path, model.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	kv, err := model.NewCache(m.Config(), 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sample.New(sample.Options{Temperature: 0.8, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]bool{}
	for _, w := range strings.Fields(synth.DemoWordList()) {
		words["▁"+w] = true
		words[w] = len(w) == 1
	}
	id, whole, n := tok.BOS(), 0, 200
	for pos := range n {
		logits, err := m.Forward(t.Context(), []model.Entry{{Pos: pos, Token: id, Logits: true}}, kv)
		if err != nil {
			t.Fatal(err)
		}
		id = s.Sample(logits)
		if p := tok.Text(id); words[p] || id == tok.EOS() || p == "<|im_end|>" {
			whole++
		}
	}
	if whole < n*9/10 {
		t.Fatalf("%d of %d sampled tokens are whole words, want 90%%", whole, n)
	}
}
