package tokenizer_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/tokenizer"
)

// roundTripSeeds are multilingual texts, emoji, code and broken UTF-8.
var roundTripSeeds = []string{
	"", " ", "\n", "Hello world", "  leading and trailing  ", "tabs\tand\r\nnewlines\n\n",
	"Größe, Straße und Übermaß", "Съешь же ещё этих мягких французских булок", "我想在apple工作1314151天～",
	"日本語のテキストとカタカナ", "مرحبا بالعالم", "עברית", "हिन्दी में लिखा", "🦙🚀😶‍🌫️👨‍👩‍👧‍👦 ✅",
	"func main() {\n\tfmt.Println(\"hi\")\n}", "3.14159 1,000,000 ½ ²", "I'll 'RE you've we'D",
	"<s></s><|eot_id|><|begin_of_text|>", "\xff\xfe\x00", "\xe4\xb8", "a\u2028b\u00a0c\u3000d",
}

// fuzzRoundTrip checks that decoding an encoding gives the text back and
// that streaming decoding agrees with Decode.
func fuzzRoundTrip(f *testing.F, dir string, tok func(testing.TB) *tokenizer.Tokenizer) {
	for _, s := range roundTripSeeds {
		f.Add(s)
	}
	for _, c := range loadCases(f, dir) {
		f.Add(c.text)
	}
	tk := tok(f)
	f.Fuzz(func(t *testing.T, s string) {
		want := s
		if tk.Model() == tokenizer.ModelSPM {
			// SentencePiece writes spaces as U+2581, so that character
			// cannot be told from a space after decoding.
			want = strings.ReplaceAll(s, "\u2581", " ")
		}
		for _, bos := range []bool{false, true} {
			ids := tk.Encode(s, tokenizer.EncodeOptions{AddBOS: bos})
			for _, id := range ids {
				if id < 0 || int(id) >= tk.Len() {
					t.Fatalf("id %d outside the vocabulary", id)
				}
			}
			if got := tk.Decode(ids); got != want {
				t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
			}
			d := tk.NewStreamDecoder(tokenizer.DecodeOptions{})
			var b strings.Builder
			for _, id := range ids {
				chunk := d.Next(id)
				if utf8.ValidString(s) && !utf8.ValidString(chunk) {
					t.Fatalf("stream chunk %q splits a character", chunk)
				}
				b.WriteString(chunk)
			}
			b.WriteString(d.Flush())
			if b.String() != want {
				t.Fatalf("stream decode of %q = %q", s, b.String())
			}
		}
		// With special tokens parsed, byte-level BPE still gives the text
		// back when control tokens are rendered.
		ids := tk.Encode(s, tokenizer.EncodeOptions{ParseSpecial: true})
		if tk.Model() == tokenizer.ModelBPE {
			if got := tk.DecodeWith(ids, tokenizer.DecodeOptions{Special: true}); got != s {
				t.Fatalf("DecodeWith(Encode(%q, special), special) = %q", s, got)
			}
		}
	})
}

func FuzzRoundTripSPM(f *testing.F) { fuzzRoundTrip(f, "llama-spm", spmTokenizer) }

func FuzzRoundTripBPE(f *testing.F) { fuzzRoundTrip(f, "llama3-bpe", bpeTokenizer) }

// FuzzNewVocab builds tokenizers from arbitrary vocabularies (as a hostile
// GGUF file could hold) and uses them: no panics, ids stay in range.
func FuzzNewVocab(f *testing.F) {
	f.Add(false, "a\x00b\x00ab\x00<s>", []byte{1, 1, 1, 3}, "a b", "ab<s>a")
	f.Add(true, "a\x00b\x00ab\x00<s>", []byte{1, 1, 1, 3}, "a b\x00ab c", "ab<s>abc")
	f.Add(false, "\x00▁\x00▁▁\x00<0x41>", []byte{5, 1, 5, 6}, "", "  A ")
	f.Fuzz(func(t *testing.T, bpe bool, tokens string, types []byte, merges string, text string) {
		v := tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: strings.Split(tokens, "\x00"),
			BOS: tokenizer.NoToken, EOS: tokenizer.NoToken, EOT: tokenizer.NoToken, UNK: 0, PAD: tokenizer.NoToken, AddSpacePrefix: true}
		if bpe {
			v.Model, v.Pre, v.UNK = tokenizer.ModelBPE, tokenizer.PreLlama3, tokenizer.NoToken
			for b := range 256 {
				v.Tokens = append(v.Tokens, byteLevelChar(byte(b)))
			}
			v.Merges = strings.Split(merges, "\x00")
		}
		v.Types = make([]tokenizer.TokenType, len(v.Tokens))
		v.Scores = make([]float32, len(v.Tokens))
		for i := range v.Types {
			v.Types[i] = tokenizer.TypeNormal
			if i < len(types) {
				v.Types[i] = tokenizer.TokenType(types[i] % 7)
				v.Scores[i] = float32(types[i]) - 100
			}
		}
		tok, err := tokenizer.New(v)
		if err != nil {
			return
		}
		for _, parse := range []bool{false, true} {
			ids := tok.Encode(text, tokenizer.EncodeOptions{ParseSpecial: parse})
			for _, id := range ids {
				if id < 0 || int(id) >= tok.Len() {
					t.Fatalf("id %d outside the vocabulary of %d", id, tok.Len())
				}
			}
			d := tok.NewStreamDecoder(tokenizer.DecodeOptions{Special: parse})
			var b strings.Builder
			for _, id := range ids {
				b.WriteString(d.Next(id))
			}
			b.WriteString(d.Flush())
			if want := tok.DecodeWith(ids, tokenizer.DecodeOptions{Special: parse}); b.String() != want {
				t.Fatalf("stream %q, decode %q", b.String(), want)
			}
		}
	})
}
