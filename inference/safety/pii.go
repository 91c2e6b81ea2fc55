package safety

import (
	"regexp"
	"slices"
	"strings"
)

// PersonalKind is a kind of personal data.
type PersonalKind string

// The kinds of personal data Redact finds.
const (
	Email  PersonalKind = "email"
	Phone  PersonalKind = "phone"
	Card   PersonalKind = "card"    // payment card number passing the Luhn check
	IBAN   PersonalKind = "iban"    // passing the ISO 13616 mod-97 check
	USSSN  PersonalKind = "us_ssn"  // US Social Security number, 123-45-6789
	UKNINO PersonalKind = "uk_nino" // UK National Insurance number, AB 12 34 56 C
)

// Finding is one piece of personal data: its kind and byte span in the text.
type Finding struct {
	Kind       PersonalKind
	Start, End int
}

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}`)
	reIBAN  = regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b`)
	reCard  = regexp.MustCompile(`\b[0-9](?:[ \-]?[0-9]){12,18}\b`)
	reSSN   = regexp.MustCompile(`\b([0-9]{3})-([0-9]{2})-([0-9]{4})\b`)
	reNINO  = regexp.MustCompile(`(?i)\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b`)
	rePhone = regexp.MustCompile(`(?:\+|\b00|\b)[0-9](?:[0-9]|[ .\-]?\(?[0-9]|\)[ .\-]?[0-9]){6,18}\b|\([0-9]{2,4}\)[ .\-]?[0-9](?:[ .\-]?[0-9]){5,12}\b`)
	reDate  = regexp.MustCompile(`^[0-9]{4}[\-./][0-9]{1,2}[\-./][0-9]{1,2}$|^[0-9]{1,2}[\-./][0-9]{1,2}[\-./][0-9]{2,4}$`)
)

// Redact returns text with personal data replaced by a bracketed kind
// ("[email]", "[phone]", "[card]", "[iban]", "[us_ssn]", "[uk_nino]") and
// the findings, in order, with spans in the original text. Card numbers
// must pass the Luhn check and IBANs the mod-97 check, so order numbers
// and the like stay.
func Redact(text string) (string, []Finding) {
	fs := findPersonal(text)
	if len(fs) == 0 {
		return text, nil
	}
	var b strings.Builder
	last := 0
	for _, f := range fs {
		b.WriteString(text[last:f.Start])
		b.WriteString("[" + string(f.Kind) + "]")
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), fs
}

func findPersonal(text string) []Finding {
	var fs []Finding
	var taken []bool // bytes inside a finding; the first, more specific, kind wins
	add := func(k PersonalKind, s, e int) {
		if taken == nil {
			taken = make([]bool, len(text))
		}
		for i := s; i < e; i++ {
			if taken[i] {
				return
			}
		}
		for i := s; i < e; i++ {
			taken[i] = true
		}
		fs = append(fs, Finding{k, s, e})
	}
	// The patterns run only on short windows around an "@" or a cluster of
	// digits, so a long message costs a scan, not six regular expressions.
	if strings.IndexByte(text, '@') < 0 && !hasDigits(text, 6) {
		return nil
	}
	for _, w := range windows(text, atSigns(text), 0) {
		for _, m := range reEmail.FindAllStringIndex(text[w[0]:w[1]], -1) {
			add(Email, w[0]+m[0], w[0]+m[1])
		}
	}
	for _, w := range windows(text, digitClusters(text), 6) {
		sub := text[w[0]:w[1]]
		for _, m := range reIBAN.FindAllStringIndex(sub, -1) {
			if validIBAN(sub[m[0]:m[1]]) {
				add(IBAN, w[0]+m[0], w[0]+m[1])
			}
		}
		for _, m := range reCard.FindAllStringIndex(sub, -1) {
			if luhn(sub[m[0]:m[1]]) {
				add(Card, w[0]+m[0], w[0]+m[1])
			}
		}
		for _, m := range reSSN.FindAllStringSubmatchIndex(sub, -1) {
			area, group, serial := sub[m[2]:m[3]], sub[m[4]:m[5]], sub[m[6]:m[7]]
			if area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000" {
				add(USSSN, w[0]+m[0], w[0]+m[1])
			}
		}
		for _, m := range reNINO.FindAllStringSubmatchIndex(sub, -1) {
			switch strings.ToUpper(sub[m[2]:m[3]]) {
			case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
				continue
			}
			add(UKNINO, w[0]+m[0], w[0]+m[1])
		}
		for _, m := range rePhone.FindAllStringIndex(sub, -1) {
			if phoneLike(sub[m[0]:m[1]]) {
				add(Phone, w[0]+m[0], w[0]+m[1])
			}
		}
	}
	return sortFindings(fs)
}

// hasDigits reports whether text holds at least n ASCII digits.
func hasDigits(text string, n int) bool {
	for i := 0; i < len(text) && n > 0; i++ {
		if text[i]-'0' <= 9 {
			n--
		}
	}
	return n == 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// windowReach is how far a window reaches past its seed: enough for an
// IBAN's letters and a phone number's prefix.
const windowReach = 24

// digitClusters returns the spans of digits joined by at most one
// separator (" -.()/") between them, with their digit counts.
func digitClusters(text string) []seedSpan {
	var out []seedSpan
	for i := 0; i < len(text); {
		if !isDigit(text[i]) {
			i++
			continue
		}
		start, end, n := i, i, 0
		for end < len(text) {
			if isDigit(text[end]) {
				n++
				end++
				continue
			}
			if end+1 < len(text) && strings.IndexByte(" -.()/", text[end]) >= 0 && isDigit(text[end+1]) {
				end++
				continue
			}
			break
		}
		out = append(out, seedSpan{start, end, n})
		i = end
	}
	return out
}

func atSigns(text string) []seedSpan {
	var out []seedSpan
	for i := 0; i < len(text); i++ {
		if text[i] == '@' {
			out = append(out, seedSpan{i, i + 1, 1})
		}
	}
	return out
}

// seedSpan is a run of text that may start a piece of personal data.
type seedSpan struct{ start, end, n int }

// windows returns merged byte spans of text around the seeds with at
// least minSeed characters (digits), each widened by windowReach and then
// to whole words (runs of non-space).
func windows(text string, seeds []seedSpan, minSeed int) [][2]int {
	var out [][2]int
	for _, sd := range seeds {
		if sd.n < minSeed {
			continue
		}
		lo, hi := max(0, sd.start-windowReach), min(len(text), sd.end+windowReach)
		if n := len(out); n > 0 {
			lo = max(lo, out[n-1][0]) // never rescan before the last window
		}
		for lo > 0 && !isSpace(text[lo-1]) && (len(out) == 0 || lo > out[len(out)-1][1]) {
			lo--
		}
		for hi < len(text) && !isSpace(text[hi]) {
			hi++
		}
		if n := len(out); n > 0 && lo <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], hi)
		} else {
			out = append(out, [2]int{lo, hi})
		}
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func sortFindings(fs []Finding) []Finding {
	slices.SortFunc(fs, func(a, b Finding) int { return a.Start - b.Start })
	return fs
}

// luhn checks a card number (spaces and dashes allowed) of 13 to 19 digits.
func luhn(s string) bool {
	var ds []int
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			ds = append(ds, int(c-'0'))
		}
	}
	if len(ds) < 13 || len(ds) > 19 {
		return false
	}
	allSame := true
	sum := 0
	for i := range ds {
		d := ds[len(ds)-1-i]
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		allSame = allSame && ds[i] == ds[0]
	}
	return sum%10 == 0 && !allSame
}

// validIBAN checks the length (15 to 34) and the mod-97 check digits.
func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// phoneLike accepts 7 to 15 digits that are not a date and either start
// with an international prefix, have 10 or more digits, or are grouped
// like a local number (555-1234).
func phoneLike(s string) bool {
	if reDate.MatchString(s) {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	if n < 7 || n > 15 {
		return false
	}
	if s[0] == '+' || strings.HasPrefix(s, "00") || n >= 10 {
		return true
	}
	return strings.ContainsAny(s, "-. ()") && !strings.Contains(s, "..")
}
