package lenient

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// ErrShape means a value's shape is one the Scanner leaves to the careful
// path: a wrong JSON kind for a field, a key written with escapes, a key
// that differs from a known one only in case, or a known key given twice.
// encoding/json reads all of these (case-insensitively, merging repeats),
// so the caller decodes that item again with it and gets exactly the
// careful path's result.
var ErrShape = errors.New("shape left to the careful decoder")

// Scanner reads a JSON text in one pass, for hand-written typed decoders.
// It does not validate: the text must be one encoding/json accepts
// (json.Valid), which NewScanner checks. Scalars are handed, as their raw
// bytes, to the UnmarshalJSON of this package's types, so they read
// exactly as they do through encoding/json.
type Scanner struct {
	data []byte
	pos  int
}

// NewScanner returns a Scanner over data, or false when data is not valid
// JSON (the careful path then reports why).
func NewScanner(data []byte) (*Scanner, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	return &Scanner{data: data}, true
}

func (s *Scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Next returns the first byte of the next value ('{', '[', '"', 'n', 't',
// 'f', '-' or a digit), or 0 at the end of the text.
func (s *Scanner) Next() byte {
	s.space()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// Skip passes over the next value and returns its bytes.
func (s *Scanner) Skip() []byte {
	s.space()
	start := s.pos
	if s.pos >= len(s.data) {
		return nil
	}
	switch s.data[s.pos] {
	case '"':
		s.skipString()
	case '{', '[':
		depth := 0
	nested:
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				break nested
			}
		}
	default:
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.data[start:s.pos]
			}
			s.pos++
		}
	}
	return s.data[start:s.pos]
}

// skipString passes over the string starting at s.pos.
func (s *Scanner) skipString() {
	i := s.pos + 1
	for i < len(s.data) {
		switch s.data[i] {
		case '\\':
			i += 2
			continue
		case '"':
			s.pos = i + 1
			return
		}
		i++
	}
	s.pos = len(s.data)
}

// maxKeys bounds the known keys of one object; more is left to the careful
// path (no shape of ours has that many fields).
const maxKeys = 32

// Object reads the object that comes next, calling fn with each key. fn
// reads the value and returns true for a key it knows, or returns false
// without reading anything for a key it does not, which is skipped. Any
// other kind of value, a key with escapes, a known key given twice and an
// unknown key that encoding/json might match case-insensitively give
// ErrShape.
func (s *Scanner) Object(fn func(key []byte) (bool, error)) error {
	if s.Next() != '{' {
		return ErrShape
	}
	s.pos++
	if s.Next() == '}' {
		s.pos++
		return nil
	}
	var known [maxKeys][]byte
	n := 0
	for {
		if s.Next() != '"' {
			return ErrShape
		}
		start := s.pos + 1
		s.skipString()
		key := s.data[start : s.pos-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return ErrShape
		}
		if s.Next() != ':' {
			return ErrShape
		}
		s.pos++
		for _, k := range known[:n] {
			if bytes.Equal(k, key) {
				return ErrShape
			}
		}
		ok, err := fn(key)
		switch {
		case err != nil:
			return err
		case ok:
			if n == maxKeys {
				return ErrShape
			}
			known[n] = key
			n++
		case foldable(key):
			return ErrShape
		default:
			s.Skip()
		}
		switch s.Next() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return ErrShape
		}
	}
}

// foldable reports whether encoding/json might match key to one of our
// field names (all lower-case ASCII) although it is not spelled the same:
// it has an upper-case letter or a non-ASCII byte (K and ſ fold to k, s).
func foldable(key []byte) bool {
	for _, c := range key {
		if (c >= 'A' && c <= 'Z') || c >= 0x80 {
			return true
		}
	}
	return false
}

// Array reads the array that comes next, calling fn for each item; fn must
// read the item. Any other kind of value gives ErrShape.
func (s *Scanner) Array(fn func() error) error {
	if s.Next() != '[' {
		return ErrShape
	}
	s.pos++
	if s.Next() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.Next() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return ErrShape
		}
	}
}

// Scalar hands the next value to u, as encoding/json would.
func (s *Scanner) Scalar(u json.Unmarshaler) error {
	return u.UnmarshalJSON(s.Skip())
}

// Raw reads the next value into *r as json.RawMessage does (null included),
// sharing the scanner's bytes.
func (s *Scanner) Raw(r *json.RawMessage) {
	*r = s.Skip()
}

// List reads the next value into l as List.UnmarshalJSON does, sharing the
// scanner's bytes.
func (s *Scanner) List(l *List) error {
	l.Items, l.Invalid = nil, nil
	switch s.Next() {
	case 'n':
		s.Skip()
		return nil
	case '[':
		l.Items = []json.RawMessage{}
		return s.Array(func() error {
			if s.Next() == 0 {
				return ErrShape
			}
			l.Items = append(l.Items, s.Skip())
			return nil
		})
	default:
		l.Invalid = s.Skip()
		return nil
	}
}

// Ptr reads an object into a new *p with dec, or null as nil, as
// encoding/json reads a pointer to a struct.
func Ptr[T any](s *Scanner, p **T, dec func(*Scanner, *T) error) error {
	switch s.Next() {
	case 'n':
		s.Skip()
		*p = nil
		return nil
	case '{':
		*p = new(T)
		return dec(s, *p)
	}
	return ErrShape
}

// Struct reads an object into v with dec; null leaves v as it is.
func Struct[T any](s *Scanner, v *T, dec func(*Scanner, *T) error) error {
	switch s.Next() {
	case 'n':
		s.Skip()
		return nil
	case '{':
		return dec(s, v)
	}
	return ErrShape
}

// Slice reads an array into *p with dec for each item, or null as nil, as
// encoding/json reads a slice (a null item of a struct type stays zero).
func Slice[T any](s *Scanner, p *[]T, dec func(*Scanner, *T) error) error {
	if s.Next() == 'n' {
		s.Skip()
		*p = nil
		return nil
	}
	out := []T{}
	err := s.Array(func() error {
		var v T
		if err := dec(s, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	*p = out
	return err
}

// Item is one item of a list decoded by Items.
type Item[T any] struct {
	// Raw is the item's bytes, shared with the scanner.
	Raw json.RawMessage
	// Value is the decoded item when OK.
	Value T
	// Null marks a null item; Failed one that dec could not read, left to
	// the careful path with Raw.
	Null, Failed bool
}

// Items reads the array that comes next (null: none), decoding every item
// with dec. An item dec fails on does not fail the list: it is marked
// Failed and kept raw, so the caller reads it the careful way.
func Items[T any](s *Scanner, dec func(*Scanner, *T) error) ([]Item[T], error) {
	if s.Next() == 'n' {
		s.Skip()
		return nil, nil
	}
	var out []Item[T]
	err := s.Array(func() error {
		start := s.Next()
		if start == 0 {
			return ErrShape
		}
		from := s.pos
		out = append(out, Item[T]{})
		it := &out[len(out)-1]
		if start == 'n' {
			it.Raw, it.Null = s.Skip(), true
			return nil
		}
		if err := dec(s, &it.Value); err != nil {
			var zero T
			s.pos = from
			it.Value, it.Failed = zero, true
			it.Raw = s.Skip()
			return nil
		}
		it.Raw = s.data[from:s.pos]
		return nil
	})
	return out, err
}

// EachItem calls fn for every item that is neither null nor failed, and
// careful for every failed one, with its path (path + "[i]"); a null item
// is reported to warn, as List.Each does.
func EachItem[T any](items []Item[T], path string, warn func(path, reason string),
	fn func(path string, it *Item[T]), careful func(path string, raw json.RawMessage)) {
	for i := range items {
		it := &items[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case it.Null:
			warn(p, "null item")
		case it.Failed:
			careful(p, it.Raw)
		default:
			fn(p, it)
		}
	}
}

// Envelope reads a webhook delivery in one pass: a body that is exactly
// {"object": object, "entry": [...]} (other keys skipped), with each entry
// decoded by dec. ok is false when the body is not such a delivery (not
// JSON, another object, no entry list, trailing data); the careful path
// then says why.
func Envelope[T any](body []byte, object string, dec func(*Scanner, *T) error) (entries []Item[T], ok bool) {
	s, ok := NewScanner(body)
	if !ok {
		return nil, false
	}
	var got String
	sawEntry := false
	err := s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "object":
			return true, s.Scalar(&got)
		case "entry":
			if s.Next() != '[' {
				return true, ErrShape
			}
			sawEntry = true
			var err error
			entries, err = Items(s, dec)
			return true, err
		}
		return false, nil
	})
	if err != nil || string(got) != object || !sawEntry || s.Next() != 0 {
		return nil, false
	}
	return entries, true
}
