package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentence ends the output filter is called at. A sentence ends at a line
// break, or after a run of terminal punctuation (with any closing quotes or
// brackets after it) that whitespace follows; the ideographic terminators
// need no whitespace after them. The whitespace must have arrived, so
// "3." is not an end until the next character shows it is not "3.14".
const (
	terminals = ".!?…。！？"
	closers   = "\"')]}»”’」』）"
	wideStops = "。！？"
)

// nextSentenceEnd looks for the first sentence end in s at or after from.
// It returns the end (the sentence is s[:end], without the whitespace
// after it) and where to look for the next one. When there is none yet,
// ok is false and next is where to start looking again once s has grown.
func nextSentenceEnd(s string, from int) (end, next int, ok bool) {
	for i := from; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == '\n' {
			return i, i + n, true
		}
		if !strings.ContainsRune(terminals, r) {
			i += n
			continue
		}
		wide := strings.ContainsRune(wideStops, r)
		j := i + n
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if !strings.ContainsRune(terminals, r2) && !strings.ContainsRune(closers, r2) {
				break
			}
			wide = wide || strings.ContainsRune(wideStops, r2)
			j += n2
		}
		if j == len(s) {
			return 0, i, false // the run may go on: look again from its start
		}
		if r2, _ := utf8.DecodeRuneInString(s[j:]); wide || unicode.IsSpace(r2) {
			return j, j, true
		}
		i = j
	}
	return 0, len(s), false
}
