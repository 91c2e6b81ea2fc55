package tokenizer_test

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// writeVocabGGUF writes a vocabulary-only GGUF file, as llama.cpp's
// converter does with --vocab-only, and opens it again.
func writeVocabGGUF(t *testing.T, v tokenizer.Vocab) *gguf.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter(out)
	if err := w.Set(gguf.KeyArchitecture, gguf.ArchLlama); err != nil {
		t.Fatal(err)
	}
	if err := v.Write(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestImportHFThroughGGUF imports Llama 3's tokenizer.json, writes it as GGUF
// metadata, reads it back and checks the reference cases still match.
func TestImportHFThroughGGUF(t *testing.T) {
	v := llama3Vocab(t)
	f := writeVocabGGUF(t, v)

	back, err := tokenizer.VocabFromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("vocabulary changed through GGUF: model %q/%q pre %q/%q bos %d/%d eos %d/%d template equal %v",
			back.Model, v.Model, back.Pre, v.Pre, back.BOS, v.BOS, back.EOS, v.EOS, back.ChatTemplate == v.ChatTemplate)
	}
	tok, err := tokenizer.FromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range loadCases(t, "llama3-bpe") {
		if got := tok.Encode(c.text, tokenizer.EncodeOptions{}); !slices.Equal(got, c.ids) {
			t.Errorf("case %d %q: got %v, want %v", i, c.text, got, c.ids)
		}
	}
	if tok.BOS() != 128000 || tok.EOS() != 128001 || tok.EOT() != 128009 || !tok.AddBOS() {
		t.Errorf("special ids bos %d eos %d eot %d addBOS %v", tok.BOS(), tok.EOS(), tok.EOT(), tok.AddBOS())
	}
}

// TestSPMVocabThroughGGUF reads the real Llama 2 vocabulary GGUF, writes its
// metadata again and checks nothing changed.
func TestSPMVocabThroughGGUF(t *testing.T) {
	spmTokenizer(t) // skips when the shared data is absent
	f, err := gguf.Open(sharedPath(t, "llama-spm", "ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := tokenizer.VocabFromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != tokenizer.ModelSPM || len(v.Tokens) != 32000 || len(v.Scores) != 32000 || !v.AddSpacePrefix ||
		v.BOS != 1 || v.EOS != 2 || v.UNK != 0 {
		t.Errorf("unexpected vocabulary: model %q %d tokens %d scores prefix %v bos %d eos %d unk %d",
			v.Model, len(v.Tokens), len(v.Scores), v.AddSpacePrefix, v.BOS, v.EOS, v.UNK)
	}
	back, err := tokenizer.VocabFromMetadata(writeVocabGGUF(t, v))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Error("vocabulary changed through GGUF")
	}
}

// TestWriteRefusesInvalidVocab: Write checks the vocabulary as New does and
// sets nothing when it is invalid.
func TestWriteRefusesInvalidVocab(t *testing.T) {
	valid := func() tokenizer.Vocab {
		return tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"<unk>", "<s>", "</s>"},
			BOS: 1, EOS: 2, UNK: 0, EOT: tokenizer.NoToken, PAD: tokenizer.NoToken, AddBOS: true}
	}
	tests := []struct {
		name  string
		spoil func(v *tokenizer.Vocab)
	}{
		{"no tokens", func(v *tokenizer.Vocab) { v.Tokens = nil }},
		{"scores of another length", func(v *tokenizer.Vocab) { v.Scores = []float32{0} }},
		{"BOS outside the vocabulary", func(v *tokenizer.Vocab) { v.BOS = 3 }},
		{"zero value special ids", func(v *tokenizer.Vocab) { v.EOT, v.PAD = 0, 7 }},
		{"token type out of range", func(v *tokenizer.Vocab) { v.Types = []tokenizer.TokenType{1, 1, 9} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valid()
			tt.spoil(&v)
			var buf bytes.Buffer
			w := gguf.NewWriter(&buf)
			if err := v.Write(w); !errors.Is(err, tokenizer.ErrInvalidVocab) {
				t.Fatalf("Write: %v, want ErrInvalidVocab", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if keys := f.Keys(); len(keys) != 0 {
				t.Fatalf("keys written: %v", keys)
			}
		})
	}
	v := valid()
	if err := v.Write(gguf.NewWriter(&bytes.Buffer{})); err != nil {
		t.Fatalf("valid vocabulary: %v", err)
	}
}

// mapMetadata is Metadata held in a map, for tests of missing and odd keys.
type mapMetadata map[string]any

func get[T any](m mapMetadata, key string) (T, bool) {
	v, ok := m[key].(T)
	return v, ok
}

func (m mapMetadata) String(k string) (string, bool)      { return get[string](m, k) }
func (m mapMetadata) Uint(k string) (uint64, bool)        { return get[uint64](m, k) }
func (m mapMetadata) Bool(k string) (bool, bool)          { return get[bool](m, k) }
func (m mapMetadata) Strings(k string) ([]string, bool)   { return get[[]string](m, k) }
func (m mapMetadata) Float32s(k string) ([]float32, bool) { return get[[]float32](m, k) }
func (m mapMetadata) Int32s(k string) ([]int32, bool)     { return get[[]int32](m, k) }

func (m mapMetadata) with(k string, v any) mapMetadata {
	c := maps.Clone(m)
	c[k] = v
	return c
}

func (m mapMetadata) without(k string) mapMetadata {
	c := maps.Clone(m)
	delete(c, k)
	return c
}

func TestVocabFromMetadata(t *testing.T) {
	var toks []string
	for b := range 256 {
		toks = append(toks, "<0x"+string("0123456789ABCDEF"[b>>4])+string("0123456789ABCDEF"[b&15])+">")
	}
	toks = append(toks, "<unk>", "<s>", "</s>", "▁a")
	spm := mapMetadata{gguf.KeyTokenizerModel: "llama", gguf.KeyTokens: toks}

	t.Run("spm defaults", func(t *testing.T) {
		v, err := tokenizer.VocabFromMetadata(spm)
		if err != nil {
			t.Fatal(err)
		}
		// Absent ids take llama.cpp's defaults (UNK 0, BOS 1, EOS 2).
		if v.UNK != 0 || v.BOS != 1 || v.EOS != 2 || v.EOT != tokenizer.NoToken || !v.AddBOS || !v.AddSpacePrefix || v.Types != nil {
			t.Errorf("defaults: %+v", v)
		}
	})
	t.Run("explicit values", func(t *testing.T) {
		md := spm.with(gguf.KeyBOSID, uint64(257)).with(gguf.KeyEOSID, uint64(258)).
			with(gguf.KeyAddBOS, false).with(gguf.KeyAddSpacePrefix, false).
			with(gguf.KeyTokenType, make([]int32, len(toks)))
		tok, err := tokenizer.FromMetadata(md)
		if err != nil {
			t.Fatal(err)
		}
		if tok.BOS() != 257 || tok.EOS() != 258 || tok.AddBOS() {
			t.Errorf("bos %d eos %d addBOS %v", tok.BOS(), tok.EOS(), tok.AddBOS())
		}
		if got := tok.Encode("a", tokenizer.EncodeOptions{}); !slices.Equal(got, []int32{'a'}) {
			t.Errorf("without space prefix Encode(a) = %v (byte fallback of 'a')", got)
		}
	})
	tests := []struct {
		name string
		md   mapMetadata
		want error
	}{
		{"no model", spm.without(gguf.KeyTokenizerModel), tokenizer.ErrMissingKey},
		{"model of wrong type", spm.with(gguf.KeyTokenizerModel, uint64(1)), tokenizer.ErrMissingKey},
		{"unsupported model", spm.with(gguf.KeyTokenizerModel, "bert"), tokenizer.ErrUnsupported},
		{"no tokens", spm.without(gguf.KeyTokens), tokenizer.ErrMissingKey},
		{"bpe without merges", spm.with(gguf.KeyTokenizerModel, "gpt2"), tokenizer.ErrMissingKey},
		{"bos outside vocabulary", spm.with(gguf.KeyBOSID, uint64(1<<40)), tokenizer.ErrInvalidVocab},
		{"eot outside vocabulary", spm.with(gguf.KeyEOTID, uint64(len(toks))), tokenizer.ErrInvalidVocab},
		{"bpe with unknown pre", spm.with(gguf.KeyTokenizerModel, "gpt2").with(gguf.KeyMerges, []string{}).with(gguf.KeyTokenizerPre, "default"), tokenizer.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tokenizer.FromMetadata(tt.md); !errors.Is(err, tt.want) {
				t.Errorf("FromMetadata() error = %v, want %v", err, tt.want)
			}
		})
	}
}
