package tokenizer_test

import (
	"slices"
	"testing"

	"github.com/corral-ai/corral/inference/tokenizer"
)

// TestReferenceCases checks both vocabularies against llama.cpp's reference
// tokenisations (no BOS; the SPM space prefix comes from the vocabulary).
func TestReferenceCases(t *testing.T) {
	for _, vc := range []struct {
		name string
		dir  string
		tok  func(testing.TB) *tokenizer.Tokenizer
	}{
		{"spm", "llama-spm", spmTokenizer},
		{"bpe", "llama3-bpe", bpeTokenizer},
	} {
		t.Run(vc.name, func(t *testing.T) {
			tok := vc.tok(t)
			cases := loadCases(t, vc.dir)
			failed := 0
			for i, c := range cases {
				got := tok.Encode(c.text, tokenizer.EncodeOptions{})
				if !slices.Equal(got, c.ids) {
					failed++
					t.Errorf("case %d %q:\n got  %v\n want %v", i, c.text, got, c.ids)
				}
				if back := tok.Decode(got); back != c.text {
					t.Errorf("case %d: decode gives %q, want %q", i, back, c.text)
				}
			}
			t.Logf("%d/%d cases match", len(cases)-failed, len(cases))
		})
	}
}
