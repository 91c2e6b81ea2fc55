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
	Email   PersonalKind = "email"
	Phone   PersonalKind = "phone"
	Card    PersonalKind = "card"    // payment card number passing the Luhn check
	IBAN    PersonalKind = "iban"    // passing the ISO 13616 mod-97 check
	USSSN   PersonalKind = "us_ssn"  // US Social Security number, 123-45-6789
	UKNINO  PersonalKind = "uk_nino" // UK National Insurance number, AB 12 34 56 C
	Unknown PersonalKind = ""
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
	add := func(k PersonalKind, s, e int) {
		for _, f := range fs {
			if s < f.End && e > f.Start {
				return // the first, more specific, kind wins
			}
		}
		fs = append(fs, Finding{k, s, e})
	}
	if strings.IndexByte(text, '@') >= 0 {
		for _, m := range reEmail.FindAllStringIndex(text, -1) {
			add(Email, m[0], m[1])
		}
	}
	digits := 0
	for i := 0; i < len(text); i++ {
		if text[i] >= '0' && text[i] <= '9' {
			digits++
		}
	}
	if digits < 6 {
		return sortFindings(fs)
	}
	for _, m := range reIBAN.FindAllStringIndex(text, -1) {
		if validIBAN(text[m[0]:m[1]]) {
			add(IBAN, m[0], m[1])
		}
	}
	for _, m := range reCard.FindAllStringIndex(text, -1) {
		if luhn(text[m[0]:m[1]]) {
			add(Card, m[0], m[1])
		}
	}
	for _, m := range reSSN.FindAllStringSubmatchIndex(text, -1) {
		area, group, serial := text[m[2]:m[3]], text[m[4]:m[5]], text[m[6]:m[7]]
		if area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000" {
			add(USSSN, m[0], m[1])
		}
	}
	for _, m := range reNINO.FindAllStringSubmatchIndex(text, -1) {
		switch strings.ToUpper(text[m[2]:m[3]]) {
		case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
			continue
		}
		add(UKNINO, m[0], m[1])
	}
	for _, m := range rePhone.FindAllStringIndex(text, -1) {
		if phoneLike(text[m[0]:m[1]]) {
			add(Phone, m[0], m[1])
		}
	}
	return sortFindings(fs)
}

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
