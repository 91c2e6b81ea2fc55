package tokenizer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// TestMetadataWrongTypes checks that an optional tokenizer key present with
// the wrong type is refused by name rather than replaced by a default.
func TestMetadataWrongTypes(t *testing.T) {
	tests := []struct {
		key   string
		value any
	}{
		{gguf.KeyScores, []int32{1, 2, 3}},
		{gguf.KeyTokenType, []float32{1, 1, 1}},
		{gguf.KeyAddBOS, "yes"},
		{gguf.KeyAddSpacePrefix, uint32(1)},
		{gguf.KeyChatTemplate, []string{"x"}},
		{gguf.KeyTokenizerPre, int32(3)},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			var buf bytes.Buffer
			w := gguf.NewWriter(&buf)
			for _, kv := range []struct {
				k string
				v any
			}{
				{gguf.KeyTokenizerModel, tokenizer.ModelSPM},
				{gguf.KeyTokens, []string{"<unk>", "<s>", "</s>"}},
				{tt.key, tt.value},
			} {
				if err := w.Set(kv.k, kv.v); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			_, err = tokenizer.VocabFromMetadata(f)
			if !errors.Is(err, tokenizer.ErrInvalidVocab) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("VocabFromMetadata = %v, want ErrInvalidVocab naming %s", err, tt.key)
			}
		})
	}
}
