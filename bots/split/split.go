// Package split cuts a long reply into messages a platform accepts, at the
// most natural boundary that fits: a paragraph, a line, a sentence, a
// clause, a word, and only for a word longer than the limit in the middle of
// it. It never cuts inside a UTF-8 sequence, a surrogate pair's character or
// an emoji sequence joined by ZWJ or modifiers.
package split

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/corral-ai/corral/bots/graph"
)

// minFill is how full a part must be before a boundary of a given strength
// is accepted there: cutting a 2000-character window after its first
// sentence would make many short messages.
const minFill = 2 // a boundary must lie in the second half of the window

// Text splits text into parts of at most limit characters as graph.TextLen
// counts them (graph.LimitsFor(p).Text is the platform's limit). Whitespace
// at the cuts and around the text is dropped, invalid UTF-8 becomes U+FFFD,
// and empty text gives no parts. A limit below 2 is treated as 2, so that
// every character fits.
func Text(text string, limit int) []string {
	limit = max(limit, 2)
	text = strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	var parts []string
	for text != "" {
		end, fits := prefixEnd(text, limit)
		if fits {
			parts = append(parts, text)
			break
		}
		cut := bestCut(text[:end], text[end:])
		part := strings.TrimRightFunc(text[:cut], unicode.IsSpace)
		if part == "" { // cannot happen: cut > 0 and text starts with non-space
			part, cut = text[:end], end
		}
		parts = append(parts, part)
		text = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	}
	return parts
}

// prefixEnd returns the byte length of the longest prefix of s within limit,
// and whether that is all of s.
func prefixEnd(s string, limit int) (end int, all bool) {
	n := 0
	for i, r := range s {
		n += graph.RuneLen(r)
		if n > limit {
			return i, false
		}
	}
	return len(s), true
}

// bestCut picks the byte index in window (the longest prefix that fits; rest
// follows it) to cut at: the strongest boundary in the second half of the
// window, else the last space anywhere, else a hard cut that keeps joined
// characters together. The result is in (0, len(window)].
func bestCut(window, rest string) int {
	floor := len(window) / minFill
	// Treat a space right after the window as a boundary at its end.
	next, _ := utf8.DecodeRuneInString(rest)
	spaceAfter := unicode.IsSpace(next)
	for _, find := range []func(string, bool) int{paragraphEnd, lineEnd, sentenceEnd, clauseEnd} {
		if i := find(window, spaceAfter); i > floor {
			return i
		}
	}
	if spaceAfter {
		return len(window)
	}
	if i := strings.LastIndexFunc(window, unicode.IsSpace); i > 0 {
		return i
	}
	return hardCut(window, rest)
}

func paragraphEnd(w string, _ bool) int {
	if i := strings.LastIndex(w, "\n\n"); i > 0 {
		return i
	}
	return -1
}

func lineEnd(w string, _ bool) int {
	if i := strings.LastIndexByte(w, '\n'); i > 0 {
		return i
	}
	return -1
}

// sentenceEnd finds the end of the last complete sentence: a terminator
// (with closing quotes or brackets after it) followed by a space, or a
// full-width terminator, which needs no space.
func sentenceEnd(w string, spaceAfter bool) int {
	return lastBoundary(w, spaceAfter, func(r rune) (terminal, needsSpace bool) {
		switch r {
		case '.', '!', '?', '…':
			return true, true
		case '。', '！', '？', '؟', '।':
			return true, false
		}
		return false, false
	})
}

// clauseEnd finds the end of the last clause: a comma, semicolon, colon or
// dash followed by a space.
func clauseEnd(w string, spaceAfter bool) int {
	return lastBoundary(w, spaceAfter, func(r rune) (terminal, needsSpace bool) {
		switch r {
		case ',', ';', ':', '—', '–':
			return true, true
		case '，', '、', '；', '：':
			return true, false
		}
		return false, false
	})
}

// lastBoundary returns the last byte index end in w such that w[:end] ends
// with a terminator isTerm accepts (optionally followed by closing quotes or
// brackets) and, when the terminator needs one, a space follows end; or -1.
func lastBoundary(w string, spaceAfter bool, isTerm func(rune) (term, needsSpace bool)) int {
	for end := len(w); end > 0; {
		j := end
		for j > 0 {
			c, size := utf8.DecodeLastRuneInString(w[:j])
			if !isCloser(c) {
				break
			}
			j -= size
		}
		if r, size := utf8.DecodeLastRuneInString(w[:j]); j-size > 0 {
			if term, needsSpace := isTerm(r); term {
				spaced := spaceAfter
				if end < len(w) {
					next, _ := utf8.DecodeRuneInString(w[end:])
					spaced = unicode.IsSpace(next)
				}
				if !needsSpace || spaced {
					return end
				}
			}
		}
		_, size := utf8.DecodeLastRuneInString(w[:end])
		end -= size
	}
	return -1
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '»', '”', '’', '」', '』', '）':
		return true
	}
	return false
}

// hardCut cuts a word longer than the window at its end, moved back so that
// a character is not separated from the marks, joiners, variation selectors
// or skin-tone modifiers that belong to it.
func hardCut(window, rest string) int {
	cut := len(window)
	for cut > 0 {
		next, _ := utf8.DecodeRuneInString((window + rest)[cut:])
		prev, size := utf8.DecodeLastRuneInString(window[:cut])
		if !joins(next) && prev != zwj {
			break
		}
		cut -= size
	}
	if cut == 0 { // one cluster longer than the limit: cut it at a rune boundary
		return len(window)
	}
	return cut
}

const zwj = '\u200D'

// joins reports a rune that attaches to the one before it.
func joins(r rune) bool {
	return r == zwj ||
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) ||
		(r >= 0xFE00 && r <= 0xFE0F) || // variation selectors
		(r >= 0x1F3FB && r <= 0x1F3FF) || // skin-tone modifiers
		(r >= 0xE0020 && r <= 0xE007F) // tag characters (flag sequences)
}
