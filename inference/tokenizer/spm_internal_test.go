package tokenizer

import (
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
)

// FuzzSPMWordSplit checks the shortcut of tokenising space-prefixed words
// one at a time against the merge loop over the whole text, on the real
// Llama 2 vocabulary.
func FuzzSPMWordSplit(f *testing.F) {
	gf, err := gguf.Open(shareddata.Path(f, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf"))
	if err != nil {
		f.Fatal(err)
	}
	defer gf.Close()
	tok, err := FromMetadata(gf)
	if err != nil {
		f.Fatal(err)
	}
	if !tok.spm.splitWords {
		f.Fatal("the Llama 2 vocabulary should allow word splitting")
	}
	for _, text := range []string{
		"Hello world", "  two  spaces  ", "▁literal▁markers▁", "tabs\tand\nnewlines\n\n  x",
		"Größe Straße нещо на Български 我想在apple工作 日本語 مرحبا 🦙🚀", "w048 7tuijk dsdfhu", "a\xff b\xc3 c",
		strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20),
	} {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if text == "" {
			return
		}
		escaped := strings.ReplaceAll(" "+text, " ", spaceMarker)
		whole := tok.spm.encodeWord(nil, escaped)
		split := tok.spm.encode(nil, text, true)
		if !slices.Equal(whole, split) {
			t.Errorf("%q:\n whole %v\n split %v", text, whole, split)
		}
	})
}
