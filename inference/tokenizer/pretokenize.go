package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The Llama 3 pre-tokenizer splits text with this pattern (from the model's
// tokenizer.json), taking at each position the first alternative that
// matches:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)
//	|[^\r\n\p{L}\p{N}]?\p{L}+
//	|\p{N}{1,3}
//	| ?[^\s\p{L}\p{N}]+[\r\n]*
//	|\s*[\r\n]+
//	|\s+(?!\S)
//	|\s+
//
// Go's regexp has no look-ahead, so nextLlama3 implements it by hand. Every
// character is a letter, a number, whitespace or "other", so some
// alternative always matches and the words cover the text without gaps.
// \s is Unicode White_Space; bytes that are not valid UTF-8 count as one
// "other" character each, so any byte string can be encoded.

// Character classes.
const (
	clsOther   uint8 = 0
	clsLetter  uint8 = 1 << 0
	clsNumber  uint8 = 1 << 1
	clsSpace   uint8 = 1 << 2
	clsNewline uint8 = 1 << 3 // \r or \n; always with clsSpace
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range utf8.RuneSelf {
		switch {
		case c == '\r' || c == '\n':
			t[c] = clsSpace | clsNewline
		case c == ' ' || (c >= '\t' && c <= '\f'):
			t[c] = clsSpace
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			t[c] = clsLetter
		case c >= '0' && c <= '9':
			t[c] = clsNumber
		}
	}
	return t
}()

// classAt returns the class, the length in bytes and the rune at s[i].
func classAt(s string, i int) (uint8, int, rune) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1, rune(c)
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return clsOther, 1, r
	case unicode.IsLetter(r):
		return clsLetter, n, r
	case unicode.IsNumber(r):
		return clsNumber, n, r
	case unicode.IsSpace(r):
		return clsSpace, n, r
	}
	return clsOther, n, r
}

// nextLlama3 returns the end of the word that starts at s[i].
func nextLlama3(s string, i int) int {
	c, n, r := classAt(s, i)

	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if m := contraction(s[i+1:]); m > 0 {
			return i + 1 + m
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsLetter {
		return skipClass(s, i+n, clsLetter)
	}
	if c&(clsNewline|clsNumber) == 0 && i+n < len(s) {
		if c2, _, _ := classAt(s, i+n); c2 == clsLetter {
			return skipClass(s, i+n, clsLetter)
		}
	}
	// \p{N}{1,3}
	if c == clsNumber {
		j := i + n
		for k := 1; k < 3 && j < len(s); k++ {
			c2, n2, _ := classAt(s, j)
			if c2 != clsNumber {
				break
			}
			j += n2
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j := -1
	if c == clsOther {
		j = i
	} else if r == ' ' && i+1 < len(s) {
		if c2, _, _ := classAt(s, i+1); c2 == clsOther {
			j = i + 1
		}
	}
	if j >= 0 {
		j = skipClass(s, j, clsOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Only whitespace is left. Take the whole run [i, end) and then:
	//   \s*[\r\n]+  ends after the run's last newline;
	//   \s+(?!\S)   ends at the end of the text, or leaves the last
	//               whitespace character to prefix the next word;
	//   \s+         takes a lone whitespace character before a non-space.
	end, lastStart, afterNewline, count := i, i, -1, 0
	for end < len(s) {
		c2, n2, _ := classAt(s, end)
		if c2&clsSpace == 0 {
			break
		}
		if c2&clsNewline != 0 {
			afterNewline = end + n2
		}
		lastStart = end
		end += n2
		count++
	}
	switch {
	case afterNewline >= 0:
		return afterNewline
	case end == len(s) || count == 1:
		return end
	}
	return lastStart
}

// skipClass returns the end of the run of characters of class c from s[i].
func skipClass(s string, i int, c uint8) int {
	for i < len(s) {
		c2, n, _ := classAt(s, i)
		if c2 != c {
			break
		}
		i += n
	}
	return i
}

// contraction returns the length of a contraction suffix (s, t, re, ve, m,
// ll, d in any case) at the start of s, or 0.
func contraction(s string) int {
	r1, n1 := utf8.DecodeRuneInString(s)
	switch foldASCII(r1) {
	case 's', 't', 'm', 'd':
		return n1
	case 'r', 'v', 'l':
		r2, n2 := utf8.DecodeRuneInString(s[n1:])
		want := 'e'
		if foldASCII(r1) == 'l' {
			want = 'l'
		}
		if foldASCII(r2) == want {
			return n1 + n2
		}
	}
	return 0
}

// foldASCII maps r to the ASCII letter it matches case-insensitively under
// Unicode simple case folding (so U+017F long s matches 's', as in the
// regex engines Hugging Face tokenizers use), or returns r unchanged.
func foldASCII(r rune) rune {
	switch {
	case r >= 'A' && r <= 'Z':
		return r + ('a' - 'A')
	case r == 'ſ':
		return 's'
	}
	return r
}
