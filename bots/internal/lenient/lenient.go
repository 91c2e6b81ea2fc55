// Package lenient decodes JSON scalars the way Meta's webhooks need: ids that
// the documentation calls strings sometimes arrive as numbers, timestamps
// documented as numbers arrive as strings, and null stands for absent. Each
// type accepts both spellings and null, and refuses objects and arrays, so a
// malformed item fails on its own instead of being silently mis-read.
package lenient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors returned by the decoders.
var (
	// ErrType means a JSON value had a kind the scalar cannot hold (an object
	// or array where a string or number belongs).
	ErrType = errors.New("wrong JSON type")
)

// String is a JSON string that may also be sent as a number or a boolean;
// a number keeps its exact digits ("7300000000000042", never 7.3e15).
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("string: %w", ErrType)
	}
	switch c := data[0]; {
	case c == '"':
		v, err := unquote(data)
		if err != nil {
			return err
		}
		*s = String(v)
	case c == '-' || (c >= '0' && c <= '9'):
		*s = String(data)
	case c == 't' || c == 'f':
		*s = String(data)
	case c == 'n':
		*s = ""
	default:
		return fmt.Errorf("string: %w (%c)", ErrType, c)
	}
	return nil
}

// Int is a JSON integer that may also be sent as a string ("1733310000"), as
// a float with an integral value (1.7e12), or as null (0).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("integer: %w", ErrType)
	}
	text := data
	switch c := data[0]; {
	case c == 'n':
		*n = 0
		return nil
	case c == '"':
		v, err := unquote(data)
		if err != nil {
			return err
		}
		if v == "" {
			*n = 0
			return nil
		}
		text = []byte(v)
	case c == '-' || (c >= '0' && c <= '9'):
	default:
		return fmt.Errorf("integer: %w (%c)", ErrType, c)
	}
	v, err := parseInt(string(text))
	if err != nil {
		return err
	}
	*n = Int(v)
	return nil
}

func parseInt(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) ||
		f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("integer: cannot read %q", Truncate(s))
	}
	return int64(f), nil
}

// Float is a JSON number that may also be sent as a string ("19.43").
type Float float64

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("number: %w", ErrType)
	}
	text := data
	switch c := data[0]; {
	case c == 'n':
		*f = 0
		return nil
	case c == '"':
		v, err := unquote(data)
		if err != nil {
			return err
		}
		if v == "" {
			*f = 0
			return nil
		}
		text = []byte(v)
	case c == '-' || (c >= '0' && c <= '9'):
	default:
		return fmt.Errorf("number: %w (%c)", ErrType, c)
	}
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("number: cannot read %q", Truncate(string(text)))
	}
	*f = Float(v)
	return nil
}

// Bool is a JSON boolean that may also be sent as "true"/"false", 1/0 or null
// (false).
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`, "1", `"1"`:
		*b = true
	case "false", `"false"`, "0", `"0"`, "null", `""`:
		*b = false
	default:
		return fmt.Errorf("boolean: cannot read %s", Truncate(string(data)))
	}
	return nil
}

// unquote reads the JSON string literal data as encoding/json does
// (invalid UTF-8 and lone surrogates become U+FFFD) without its reflection
// and validation: ids, timestamps and texts are decoded this way for every
// item. Anything but a well-formed literal is left to encoding/json, which
// reports it.
func unquote(data []byte) (string, error) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return unquoteSlow(data)
	}
	inner := data[1 : len(data)-1]
	// The common case: nothing to replace.
	plain := true
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), nil
	}
	b := make([]byte, 0, len(inner)+2*utf8.UTFMax)
	for r := 0; r < len(inner); {
		c := inner[r]
		switch {
		case c == '"' || c < 0x20:
			return unquoteSlow(data)
		case c == '\\':
			if r+1 >= len(inner) {
				return unquoteSlow(data)
			}
			switch e := inner[r+1]; e {
			case '"', '\\', '/':
				b, r = append(b, e), r+2
			case 'b':
				b, r = append(b, '\b'), r+2
			case 'f':
				b, r = append(b, '\f'), r+2
			case 'n':
				b, r = append(b, '\n'), r+2
			case 'r':
				b, r = append(b, '\r'), r+2
			case 't':
				b, r = append(b, '\t'), r+2
			case 'u':
				rr := hex4(inner[r+2:])
				if rr < 0 {
					return unquoteSlow(data)
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if rr1 := hex4(inner[min(r+2, len(inner)):]); r+1 < len(inner) && inner[r] == '\\' && inner[r+1] == 'u' && rr1 >= 0 {
						if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							r += 6
							break
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
			default:
				return unquoteSlow(data)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(inner[r:])
			if rr == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, inner[r:r+size]...)
			}
			r += size
		}
	}
	return string(b), nil
}

// hex4 reads the four hex digits that start b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquoteSlow is unquote through encoding/json, for what is not a
// well-formed literal (its error) and as the reference the tests compare
// unquote with.
func unquoteSlow(data []byte) (string, error) {
	var v string
	err := json.Unmarshal(data, &v)
	return v, err
}

// Truncate shortens a value quoted in an error or warning to at most 40
// bytes and an ellipsis, without splitting a UTF-8 sequence.
func Truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// msThreshold separates Unix seconds from Unix milliseconds: 1e11 seconds is
// the year 5138, 1e11 milliseconds is 1973. WhatsApp states seconds and
// Messenger milliseconds, but payloads from elsewhere mix them up.
const msThreshold = 1e11

// maxMillis is the end of the year 9999 in Unix milliseconds, the last
// time a protobuf Timestamp holds.
const maxMillis = 253402300799999

// Time converts a platform timestamp in Unix seconds or milliseconds (told
// apart by magnitude) to a UTC time; zero or negative means absent and gives
// the zero time, and so does a time after the year 9999, which no message
// field could hold.
func Time(n int64) time.Time {
	switch {
	case n <= 0 || n > maxMillis:
		return time.Time{}
	case n < msThreshold:
		return time.Unix(n, 0).UTC()
	default:
		return time.UnixMilli(n).UTC()
	}
}

// List is a JSON array kept as raw items, to be decoded one by one. A value
// that is neither an array nor null does not fail the enclosing object: it is
// kept in Invalid, so the caller can warn about that one field and still use
// the object's other fields.
type List struct {
	Items   []json.RawMessage
	Invalid json.RawMessage
}

// UnmarshalJSON implements json.Unmarshaler. The decoder hands over a
// valid JSON value, so the array is split into items by a small scanner
// instead of being decoded a second time; the items share one copy of it.
func (l *List) UnmarshalJSON(data []byte) error {
	l.Items, l.Invalid = nil, nil
	switch {
	case len(data) == 0:
		return fmt.Errorf("list: %w", ErrType)
	case data[0] == 'n':
		return nil
	case data[0] != '[':
		l.Invalid = append(json.RawMessage(nil), data...)
		return nil
	}
	items, ok := splitArray(append([]byte(nil), data...))
	if !ok {
		// Not the valid array the decoder promises (a direct call): decode
		// it the slow way, which reports the error.
		return json.Unmarshal(data, &l.Items)
	}
	l.Items = items
	return nil
}

// splitArray cuts a JSON array into its top-level items, trimmed of
// whitespace. ok is false when data is not a well-formed array as far as
// the scanner can tell (unbalanced brackets, unterminated strings, empty
// items).
func splitArray(data []byte) (items []json.RawMessage, ok bool) {
	data = bytes.TrimSpace(data)
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	items = []json.RawMessage{}
	depth, start, inString, escaped := 0, 1, false, false
	for i := 1; i < len(data)-1; i++ {
		c := data[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth < 0 {
				return nil, false
			}
		case c == ',' && depth == 0:
			item := bytes.TrimSpace(data[start:i])
			if len(item) == 0 {
				return nil, false
			}
			items = append(items, item[:len(item):len(item)])
			start = i + 1
		}
	}
	if inString || depth != 0 {
		return nil, false
	}
	last := bytes.TrimSpace(data[start : len(data)-1])
	switch {
	case len(last) > 0:
		items = append(items, last[:len(last):len(last)])
	case len(items) > 0:
		return nil, false // trailing comma
	}
	return items, true
}

// IsNull reports whether a raw JSON value is null (or empty).
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// Each calls fn for every item of l with its JSON path (path + "[i]"). An
// invalid list or a null item is reported to warn instead; fn never sees them.
func (l List) Each(path string, warn func(path, reason string), fn func(path string, raw json.RawMessage)) {
	if l.Invalid != nil {
		warn(path, "not a list: "+Truncate(string(l.Invalid)))
		return
	}
	for i, raw := range l.Items {
		p := path + "[" + strconv.Itoa(i) + "]"
		if IsNull(raw) {
			warn(p, "null item")
			continue
		}
		fn(p, raw)
	}
}
