package safety

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns the matching form of text, the form every rule and the
// classifier see: Unicode NFKC; zero-width, format and control characters
// removed; look-alike letters from other scripts folded to Latin; Latin
// diacritics dropped; lower case; leetspeak inside words decoded ("k1ll");
// letters written apart joined ("k i l l", "k.i.l.l"); a letter repeated
// three or more times squeezed to one; punctuation dropped. Words are
// separated by single spaces. It is a pure function of text.
func Normalize(text string) string {
	n := normPool.Get().(*normalizer)
	defer normPool.Put(n)
	return n.run(text)
}

var normPool = sync.Pool{New: func() any { return new(normalizer) }}

// token is one word of the text while it is being normalised.
type token struct {
	start, end int  // byte span in normalizer.buf
	sep        int  // separator characters after the word
	sepChar    rune // the first of them
	hasLetter  bool // holds a letter other than a leet symbol
}

// normalizer holds the scratch space of one normalisation; it is reused
// through normPool so that a call allocates only its result.
type normalizer struct {
	nfkc   []byte
	buf    []byte  // words, folded, back to back
	toks   []token // words in buf
	runes  []rune  // the current word's runes
	out    []byte
	joined []byte
}

// maxWordRunes bounds a word; longer runs of letters (base64, hashes) are
// cut into pieces so the work per word stays bounded.
const maxWordRunes = 64

func (n *normalizer) run(text string) string {
	src := text
	ascii := isASCII(text)
	if !ascii {
		n.nfkc = norm.NFKC.AppendString(n.nfkc[:0], text)
		src = string(n.nfkc)
	}
	foldAll := false
	if !ascii {
		foldAll = latinDominant(src)
	}
	n.buf, n.toks, n.runes = n.buf[:0], n.toks[:0], n.runes[:0]
	sep := 0
	var sepChar rune
	prevLatin := false
	for _, r := range src {
		if r < 0x80 {
			// ASCII fast path: no marks, look-alikes or diacritics.
			if isASCIILetter(r) || (r >= '0' && r <= '9') || isLeetSymbol(r) {
				if len(n.runes) == 0 && len(n.toks) > 0 {
					n.toks[len(n.toks)-1].sep = sep
					n.toks[len(n.toks)-1].sepChar = sepChar
				}
				if len(n.runes) >= maxWordRunes {
					n.flush(foldAll, &sep)
				}
				sep = 0
				if r >= 'A' && r <= 'Z' {
					r += 'a' - 'A'
				}
				n.runes = append(n.runes, r)
				prevLatin = true
				continue
			}
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7F {
				continue // control characters vanish
			}
		}
		switch {
		case r == utf8.RuneError:
			sep++
			n.flush(foldAll, &sep)
			continue
		case isInvisible(r):
			continue
		case r >= 0x300 && unicode.Is(unicode.Mn, r):
			// Combining marks over Latin letters are decoration (strike
			// through, accents added to dodge matching); over other
			// scripts they are part of the spelling.
			if prevLatin || len(n.runes) == 0 {
				continue
			}
			n.runes = append(n.runes, r)
			continue
		}
		if isWordRune(r) {
			if len(n.runes) == 0 && len(n.toks) > 0 {
				n.toks[len(n.toks)-1].sep = sep
				n.toks[len(n.toks)-1].sepChar = sepChar
			}
			if len(n.runes) >= maxWordRunes {
				n.flush(foldAll, &sep)
			}
			sep = 0
			n.runes = append(n.runes, unicode.ToLower(r))
			prevLatin = r < 0x250 || (r >= 0x1E00 && r <= 0x1EFF)
			continue
		}
		prevLatin = false
		if len(n.runes) > 0 {
			n.flush(foldAll, &sep)
		}
		if sep == 0 {
			sepChar = r
		}
		if unicode.IsSpace(r) && r != ' ' {
			sep += 2 // a line break or tab ends spaced-out words
		} else {
			sep++
		}
	}
	n.flush(foldAll, &sep)
	return n.assemble()
}

// flush finishes the current word: look-alikes folded, diacritics dropped,
// leetspeak decoded, long letter runs squeezed.
func (n *normalizer) flush(foldAll bool, sep *int) {
	if len(n.runes) == 0 {
		return
	}
	rs := n.runes
	// Look-alikes: fold when the word mixes scripts or the text is mostly
	// Latin, so a Russian or Greek message keeps its own letters.
	fold := foldAll
	if !fold {
		latin, other := 0, 0
		for _, r := range rs {
			switch {
			case r < 0x80 && isASCIILetter(r):
				latin++
			case confusable(r) != 0:
				other++
			}
		}
		fold = latin > 0 && other > 0
	}
	for i, r := range rs {
		if fold {
			if c := confusable(r); c != 0 {
				rs[i] = c
				continue
			}
		}
		if b := baseLetter(r); b != 0 {
			rs[i] = b
		}
	}
	rs = trimLeet(rs)
	if len(rs) == 0 {
		n.runes = n.runes[:0]
		return
	}
	rs = decodeLeet(rs)
	start := len(n.buf)
	hasLetter := false
	for i := 0; i < len(rs); {
		r := rs[i]
		j := i + 1
		for j < len(rs) && rs[j] == r {
			j++
		}
		count := j - i
		if unicode.IsLetter(r) {
			hasLetter = true
			if count >= 3 {
				// Stretched ("kiiiill", "killlll"): vowels that rarely
				// double become one, other letters two.
				count = 2
				switch r {
				case 'a', 'i', 'u', 'y':
					count = 1
				}
			}
		}
		for range count {
			if r == 'ß' {
				n.buf = append(n.buf, "ss"...)
			} else {
				n.buf = utf8.AppendRune(n.buf, r)
			}
		}
		i = j
	}
	n.toks = append(n.toks, token{start: start, end: len(n.buf), hasLetter: hasLetter})
	n.runes = n.runes[:0]
	*sep = 0
}

// assemble joins the words with single spaces, gluing letters written
// apart ("k i l l", "k.i.l.l") back into one word.
func (n *normalizer) assemble() string {
	toks := n.toks
	n.out = n.out[:0]
	minRun := 3
	if hasSpacedRun(n.buf, toks, 3) {
		minRun = 2
	}
	for i := 0; i < len(toks); {
		j := spacedRunEnd(n.buf, toks, i)
		if j-i >= minRun && runHasLetters(n.buf, toks[i:j]) {
			n.joined = n.joined[:0]
			for _, t := range toks[i:j] {
				n.joined = append(n.joined, n.buf[t.start:t.end]...)
			}
			n.appendWord(decodeLeetBytes(n.joined))
			i = j
			continue
		}
		if i+1 < len(toks) && contraction(n.buf, toks[i], toks[i+1]) {
			// "don't", "I'm", "you're" become "dont", "im", "youre", as
			// people who skip the apostrophe write them.
			n.joined = append(append(n.joined[:0], n.buf[toks[i].start:toks[i].end]...), n.buf[toks[i+1].start:toks[i+1].end]...)
			n.appendWord(n.joined)
			i += 2
			continue
		}
		n.appendWord(n.buf[toks[i].start:toks[i].end])
		i++
	}
	return string(n.out)
}

// contraction reports whether word a, an apostrophe and word b are one
// English contraction: b is a contraction's ending and a is a word (or
// "i"), so French elisions ("c'est", "j'ai", "l'eau") stay apart. "'s"
// stays apart too: mostly a possessive ("my competitor's prices"), whose
// word must still match as written.
func contraction(buf []byte, a, b token) bool {
	if a.sep != 1 || (a.sepChar != '\'' && a.sepChar != '’' && a.sepChar != 'ʼ') {
		return false
	}
	switch string(buf[b.start:b.end]) {
	case "t", "m", "d", "re", "ve", "ll":
	default:
		return false
	}
	w := buf[a.start:a.end]
	return len(w) > 1 || (len(w) == 1 && w[0] == 'i')
}

func (n *normalizer) appendWord(w []byte) {
	if len(w) == 0 {
		return
	}
	if len(n.out) > 0 {
		n.out = append(n.out, ' ')
	}
	n.out = append(n.out, w...)
}

// spacedRunEnd returns the end of the run of one-character words starting
// at i whose separators all have the length of the first one.
func spacedRunEnd(buf []byte, toks []token, i int) int {
	if !singleChar(buf, toks[i]) {
		return i + 1
	}
	sepLen, sepChar := toks[i].sep, toks[i].sepChar
	if sepLen < 1 || sepLen > 2 {
		return i + 1
	}
	j := i + 1
	for j < len(toks) && singleChar(buf, toks[j]) {
		j++
		if toks[j-1].sep != sepLen || toks[j-1].sepChar != sepChar {
			break
		}
	}
	return j
}

func hasSpacedRun(buf []byte, toks []token, min int) bool {
	for i := 0; i < len(toks); {
		j := spacedRunEnd(buf, toks, i)
		if j-i >= min && runHasLetters(buf, toks[i:j]) {
			return true
		}
		i = j
	}
	return false
}

func singleChar(buf []byte, t token) bool {
	if t.end-t.start != 1 {
		return false
	}
	c := buf[t.start]
	return isASCIILetter(rune(c)) || (c >= '0' && c <= '9')
}

func runHasLetters(buf []byte, toks []token) bool {
	letters := 0
	for _, t := range toks {
		if isASCIILetter(rune(buf[t.start])) {
			letters++
		}
	}
	return letters >= 2
}

// decodeLeetBytes decodes digits inside a word that was written apart
// ("k 1 l l" → "kill"), but leaves an all-digit word alone.
func decodeLeetBytes(w []byte) []byte {
	letters := false
	for _, c := range w {
		if isASCIILetter(rune(c)) {
			letters = true
		}
	}
	if !letters {
		return w
	}
	for i, c := range w {
		if l := leetLetter(rune(c)); l != 0 {
			w[i] = byte(l)
		}
	}
	return w
}

// isWordRune reports whether r belongs to a word: letters, digits and the
// symbols leetspeak writes letters with.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return isASCIILetter(r) || (r >= '0' && r <= '9') || isLeetSymbol(r)
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '€'
}

func isASCIILetter(r rune) bool { return (r|0x20) >= 'a' && (r|0x20) <= 'z' }

func isLeetSymbol(r rune) bool {
	switch r {
	case '@', '$', '!', '|', '€':
		return true
	}
	return false
}

// leetLetter maps a leetspeak character to the letter it stands for.
func leetLetter(r rune) rune {
	switch r {
	case '0':
		return 'o'
	case '1', '!':
		return 'i'
	case '3', '€':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7':
		return 't'
	case '8':
		return 'b'
	case '9':
		return 'g'
	case '|':
		return 'l'
	}
	return 0
}

// trimLeet drops leet symbols at the ends of a word ("hello!", "@user"
// keeps its letters) except a trailing "$" after letters ("a$$").
func trimLeet(rs []rune) []rune {
	for len(rs) > 0 && isLeetSymbol(rs[0]) && rs[0] != '$' && rs[0] != '@' {
		rs = rs[1:]
	}
	for len(rs) > 0 && isLeetSymbol(rs[len(rs)-1]) && rs[len(rs)-1] != '$' {
		rs = rs[:len(rs)-1]
	}
	allSym := true
	for _, r := range rs {
		if !isLeetSymbol(r) {
			allSym = false
			break
		}
	}
	if allSym {
		return rs[:0]
	}
	return rs
}

// decodeLeet replaces leetspeak characters in a word with the letters
// they stand for. A character is decoded when it sits between letters
// ("k1ll", "h4x0r"), when a word starts with it and goes on with letters
// ("1nject", but not "1st" or "10pm"), or when it ends a word of letters
// and is one of the common letter stand-ins ("ki11", "a$$"). Numbers,
// versions and names with digits at the end ("covid19") stay.
func decodeLeet(rs []rune) []rune {
	letters := 0
	leet := false
	for _, r := range rs {
		if unicode.IsLetter(r) {
			letters++
		} else if leetLetter(r) != 0 {
			leet = true
		}
	}
	if letters == 0 || !leet {
		return rs
	}
	i := 0
	for i < len(rs) {
		if leetLetter(rs[i]) == 0 {
			i++
			continue
		}
		j := i
		for j < len(rs) && leetLetter(rs[j]) != 0 {
			j++
		}
		before := i > 0 && unicode.IsLetter(rs[i-1])
		after := j < len(rs) && unicode.IsLetter(rs[j])
		decode := false
		switch {
		case before && after:
			decode = true
		case !before && after:
			decode = !unitSuffix(rs[j:]) && lettersFrom(rs[j:]) >= 2
		case before && !after:
			decode = j-i <= 2 && (letters >= 2 || rs[i] == '$') && commonTail(rs[i:j], letters)
		}
		if decode {
			ones := 0
			for k := i; k < j; k++ {
				if rs[k] == '1' {
					ones++
				}
			}
			for k := i; k < j; k++ {
				if rs[k] == '1' && ones >= 2 {
					rs[k] = 'l' // "ki11": a pair of ones stands for "ll"
				} else {
					rs[k] = leetLetter(rs[k])
				}
			}
		}
		i = j
	}
	return rs
}

func lettersFrom(rs []rune) int {
	n := 0
	for _, r := range rs {
		if !unicode.IsLetter(r) {
			break
		}
		n++
	}
	return n
}

// commonTail reports whether rs, ending a word of letters, is leetspeak:
// "1", "0", "!", "$", "@" always; "3" and "7" only after three letters,
// so "mp3" stays.
func commonTail(rs []rune, letters int) bool {
	for _, r := range rs {
		switch r {
		case '1', '0', '!', '$', '@':
		case '3', '7':
			if letters < 3 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// unitSuffix reports whether the letters after a leading number are an
// ordinal or unit ("1st", "10pm", "5kg"), which are not leetspeak.
func unitSuffix(rs []rune) bool {
	var b strings.Builder
	for _, r := range rs {
		if !unicode.IsLetter(r) {
			break
		}
		b.WriteRune(r)
	}
	switch b.String() {
	case "st", "nd", "rd", "th", "am", "pm", "px", "kg", "km", "cm", "mm", "gb", "mb", "kb", "tb",
		"ms", "hz", "ghz", "mhz", "fps", "mph", "kph", "hrs", "min", "mins", "sec", "secs", "mg", "ml", "yrs", "lbs", "oz":
		return true
	}
	return false
}

// isInvisible reports characters that render as nothing or only steer
// layout: zero-width spaces and joiners, bidi controls, soft hyphens,
// variation selectors, tag characters and C0/C1 controls other than
// whitespace.
func isInvisible(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || (r >= 0x7F && r < 0xA0):
		return true
	case r < 0xA0:
		return false
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE0FFF:
		return true
	case r == 0x034F || r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0:
		return true // combining grapheme joiner, Hangul fillers
	case r < 0x600:
		return r == 0xAD // the only format character below Arabic
	}
	return unicode.Is(unicode.Cf, r)
}

// latinDominant reports whether s has at least as many Latin letters as
// Cyrillic, Greek and Armenian ones together.
func latinDominant(s string) bool {
	latin, other := 0, 0
	for _, r := range s {
		switch {
		case r < 0x80:
			if isASCIILetter(r) {
				latin++
			}
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.Is(unicode.Cyrillic, r), unicode.Is(unicode.Greek, r), unicode.Is(unicode.Armenian, r):
			other++
		}
	}
	return latin >= other
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
