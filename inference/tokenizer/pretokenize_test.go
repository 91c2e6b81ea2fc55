package tokenizer

import (
	"slices"
	"testing"
)

func splitAll(s string) []string {
	var words []string
	for i := 0; i < len(s); {
		j := nextLlama3(s, i)
		words = append(words, s[i:j])
		i = j
	}
	return words
}

// TestSplitLlama3 pins the semantics of each alternative of the Llama 3
// split pattern (checked against a regex engine with look-ahead).
func TestSplitLlama3(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"words with space prefix", "Hello world", []string{"Hello", " world"}},
		{"contractions any case", "I'll 'RE we'Ve a'lL", []string{"I", "'ll", " '", "RE", " we", "'Ve", " a", "'lL"}},
		{"contraction before letters", "'told", []string{"'t", "old"}},
		{"long s folds to s", "it'ſ", []string{"it", "'ſ"}},
		{"apostrophe prefixes letters", "'xyz", []string{"'xyz"}},
		{"punctuation prefixes letters", "(normal)", []string{"(normal", ")"}},
		{"space then punctuation", " (x", []string{" (", "x"}},
		{"numbers in threes", "1234567", []string{"123", "456", "7"}},
		{"space before number stays apart", "a 12", []string{"a", " ", "12"}},
		{"other numbers", "½²٣", []string{"½²٣"}},
		{"punctuation takes newlines", "...\n\nx", []string{"...\n\n", "x"}},
		{"spaces leave one for the word", "a   b", []string{"a", "  ", " b"}},
		{"lone space before punctuation run", "a !!", []string{"a", " !!"}},
		{"trailing spaces", "a   ", []string{"a", "   "}},
		{"newline run ends at last newline", "a \n \n  b", []string{"a", " \n \n", " ", " b"}},
		{"tab prefixes letters", "\t\thi", []string{"\t", "\thi"}},
		{"newline never prefixes letters", "\nhi", []string{"\n", "hi"}},
		{"unicode spaces", "a\u3000\u00a0b", []string{"a", "\u3000", "\u00a0b"}},
		{"combining mark is other", "कि", []string{"क", "ि"}},
		{"cjk run", "我想在apple工作", []string{"我想在apple工作"}},
		{"emoji", " 🦙.cpp", []string{" 🦙.", "cpp"}},
		{"invalid bytes are other", "a\xff\xfeb", []string{"a", "\xff\xfe", "b"}},
		{"invalid byte prefixes letters", "\xffab", []string{"\xffab"}},
		{"truncated rune", "\xe4\xb8", []string{"\xe4\xb8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitAll(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("split(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
