package split

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/corral-ai/corral/bots/graph"
)

func TestText(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{name: "empty", text: "", limit: 10, want: nil},
		{name: "only spaces", text: " \n\t ", limit: 10, want: nil},
		{name: "fits", text: "Hello there.", limit: 12, want: []string{"Hello there."}},
		{name: "trimmed", text: "  Hello  ", limit: 12, want: []string{"Hello"}},
		{name: "paragraph", text: "First para line.\n\nSecond para.", limit: 24, want: []string{"First para line.", "Second para."}},
		{name: "line", text: "one line here\nanother line", limit: 20, want: []string{"one line here", "another line"}},
		{name: "sentence", text: "This is one. This is two. This is three.", limit: 30, want: []string{"This is one. This is two.", "This is three."}},
		{name: "sentence with closing quote", text: `He said "stop." Then he left the room.`, limit: 22, want: []string{`He said "stop."`, "Then he left the room."}},
		{name: "question and exclamation", text: "Really? Yes! Absolutely sure about it.", limit: 14, want: []string{"Really? Yes!", "Absolutely", "sure about it."}},
		{name: "decimal is not a sentence end", text: "Pi is about 3.14159 and more digits", limit: 22, want: []string{"Pi is about 3.14159", "and more digits"}},
		{name: "clause", text: "first part of it, second part follows here", limit: 24, want: []string{"first part of it,", "second part follows here"}},
		{name: "word", text: "alpha beta gamma delta epsilon", limit: 12, want: []string{"alpha beta", "gamma delta", "epsilon"}},
		{name: "space right after window", text: "abcd efgh", limit: 4, want: []string{"abcd", "efgh"}},
		{name: "long word hard cut", text: "https://example.com/aaaaaaaaaaaa", limit: 10, want: []string{"https://ex", "ample.com/", "aaaaaaaaaa", "aa"}},
		{name: "early sentence end not taken", text: "Hi. this sentence goes on and on", limit: 20, want: []string{"Hi. this sentence", "goes on and on"}},
		{name: "cjk sentence", text: "今日は晴れです。明日は雨でしょう。", limit: 10, want: []string{"今日は晴れです。", "明日は雨でしょう。"}},
		{name: "emoji counts twice", text: "😀😀😀😀😀", limit: 4, want: []string{"😀😀", "😀😀", "😀"}},
		{name: "zwj family kept whole", text: "ab👨‍👩‍👧cd", limit: 9, want: []string{"ab", "👨‍👩‍👧c", "d"}},
		{name: "cluster longer than limit cut at rune", text: "👨‍👩‍👧", limit: 7, want: []string{"👨‍👩‍", "👧"}},
		{name: "skin tone kept", text: "xxx👍🏽", limit: 5, want: []string{"xxx", "👍🏽"}},
		{name: "combining accent kept", text: "abcde\u0301f", limit: 5, want: []string{"abcd", "e\u0301f"}},
		{name: "invalid utf8 replaced", text: "ab\xffcd", limit: 10, want: []string{"ab\uFFFDcd"}},
		{name: "tiny limit", text: "abc", limit: 0, want: []string{"ab", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.text, tt.limit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("Text(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
			}
			checkParts(t, tt.text, tt.limit, got)
		})
	}
}

func TestTextPlatformLimits(t *testing.T) {
	sentence := "The quick brown fox jumps over the lazy dog, then rests a while. "
	long := strings.Repeat(sentence, 200) // about 13000 characters
	for _, lim := range []int{4096, 2000} {
		parts := Text(long, lim)
		checkParts(t, long, lim, parts)
		for i, p := range parts[:len(parts)-1] {
			if !strings.HasSuffix(p, ".") {
				t.Errorf("limit %d part %d does not end a sentence: ...%q", lim, i, p[len(p)-20:])
			}
			if graph.TextLen(p) < lim*3/4 {
				t.Errorf("limit %d part %d is only %d long", lim, i, graph.TextLen(p))
			}
		}
	}
}

// checkParts checks what holds for every split: parts are non-empty, fit
// the limit, are valid UTF-8, and together hold every non-space character
// of the text in order.
func checkParts(t *testing.T, text string, limit int, parts []string) {
	t.Helper()
	limit = max(limit, 2)
	for i, p := range parts {
		if p == "" || graph.TextLen(p) > limit || !utf8.ValidString(p) {
			t.Fatalf("part %d %q: empty, over %d or invalid", i, p, limit)
		}
		if strings.TrimSpace(p) != p {
			t.Fatalf("part %d %q has surrounding space", i, p)
		}
	}
	noSpace := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	if noSpace(strings.Join(parts, "")) != noSpace(text) {
		t.Fatalf("content changed: %q -> %q", text, parts)
	}
}

func FuzzText(f *testing.F) {
	f.Add("Hello. World! How are you today?", 10)
	f.Add("👨‍👩‍👧👍🏽e\u0301 a", 3)
	f.Add("今日は晴れです。明日は", 4)
	f.Add("\xff\xfe abc", 2)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		limit = limit%5000 + 1
		if limit < 0 {
			limit = -limit
		}
		checkParts(t, text, limit, Text(text, limit))
	})
}

func BenchmarkText(b *testing.B) {
	long := strings.Repeat("The quick brown fox jumps over the lazy dog, then rests a while. ", 200)
	b.SetBytes(int64(len(long)))
	for b.Loop() {
		Text(long, 2000)
	}
}
