package safety

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// confusables maps lower-case letters of other scripts that look like a
// Latin letter to that letter. NFKC already folds full-width forms,
// mathematical alphanumerics, circled and parenthesised letters; these are
// the look-alikes it leaves (Unicode's confusables list, reduced to the
// letters people use to dodge word filters).
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o',
	'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i',
	'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ь': 'b', 'ӏ': 'l', 'ɡ': 'g',
	'ү': 'y', 'ԍ': 'g', 'ꙇ': 'i',
	// Greek
	'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v',
	'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ω': 'w', 'ϲ': 'c', 'ϳ': 'j',
	'ί': 'i', 'ό': 'o', 'ά': 'a', 'έ': 'e', 'ύ': 'u',
	// Armenian
	'օ': 'o', 'ս': 'u', 'հ': 'h', 'ո': 'n', 'զ': 'q', 'ց': 'g', 'ա': 'w',
	// Latin letters that only look like ASCII ones, small capitals
	'ɑ': 'a', 'ı': 'i', 'ȷ': 'j', 'ɩ': 'i', 'ʀ': 'r', 'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c',
	'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l',
	'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v',
	'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ƅ': 'b', 'ɓ': 'b', 'ƙ': 'k',
}

func confusable(r rune) rune {
	if r < 0x180 {
		return 0
	}
	return confusables[r]
}

// baseLetters maps a Latin letter with diacritics to its bare lower-case
// ASCII letter ("é" → "e"). Built once from the Unicode decompositions of
// the Latin blocks, plus the few letters that have none.
var baseLetters = func() map[rune]rune {
	m := map[rune]rune{'ø': 'o', 'ɵ': 'o', 'æ': 'a', 'œ': 'o', 'đ': 'd', 'ł': 'l', 'ħ': 'h', 'ŧ': 't', 'ƀ': 'b', 'ɨ': 'i', 'ʉ': 'u'}
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			if !unicode.IsLetter(r) {
				continue
			}
			d := norm.NFD.String(string(r))
			b := rune(d[0])
			if len(d) > 1 && b < 0x80 && isASCIILetter(b) {
				m[unicode.ToLower(r)] = unicode.ToLower(b)
			}
		}
	}
	add(0xC0, 0x24F)
	add(0x1E00, 0x1EFF)
	return m
}()

func baseLetter(r rune) rune {
	if r < 0xC0 || (r >= 0x250 && r < 0x1E00) || r >= 0x1F00 {
		return 0
	}
	return baseLetters[r]
}
