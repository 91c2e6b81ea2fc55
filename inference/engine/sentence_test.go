package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNextSentenceEnd grows each text one character at a time, as a reply
// does, and looks for sentence ends the way reply.screen does.
func TestNextSentenceEnd(t *testing.T) {
	tests := []struct {
		text string
		want []string // the sentences found, in order
	}{
		{"One. Two! Three? Four", []string{"One.", "One. Two!", "One. Two! Three?"}},
		{"Pi is 3.14 exactly. Yes", []string{"Pi is 3.14 exactly."}},
		{"Wait... what?! ok", []string{"Wait...", "Wait... what?!"}},
		{`He said "stop." Then`, []string{`He said "stop."`}},
		{"(see above.) Next", []string{"(see above.)"}},
		{"line one\nline two\n\nthree", []string{"line one", "line one\nline two", "line one\nline two\n"}},
		{"終わり。次", []string{"終わり。"}},
		{"Done.\tTab", []string{"Done."}},
		{"trailing.", nil},
		{"no end at all", nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var got []string
			scan := 0
			for i := 0; i < len(tt.text); {
				_, n := utf8.DecodeRuneInString(tt.text[i:])
				i += n
				s := tt.text[:i]
				for {
					end, next, ok := nextSentenceEnd(s, scan)
					scan = next
					if !ok {
						break
					}
					got = append(got, s[:end])
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("sentences %q, want %q", got, tt.want)
			}
		})
	}
}
