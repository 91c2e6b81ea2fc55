package persona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxJSONSize bounds the JSON form of an Edit; every field at its limit
// (in 4-byte characters, escaped) fits well below it.
const MaxJSONSize = 256 << 10

// ErrBadJSON means a persona's JSON form cannot be decoded.
var ErrBadJSON = errors.New("malformed persona JSON")

// DecodeEdit decodes the JSON form of an Edit, as the studio sends it.
// Fields it leaves out keep the values of NewEdit. Unknown fields, a value
// of the wrong type, invalid UTF-8, trailing data and documents over
// MaxJSONSize are refused with an error matching ErrBadJSON that names the
// field. The result is not validated: call Validate.
func DecodeEdit(data []byte) (Edit, error) {
	e := NewEdit()
	if err := decodeStrict(data, &e); err != nil {
		return Edit{}, err
	}
	e.Spec = e.Spec.Clone() // empty lists become nil, as Clone makes them
	return e, nil
}

// Encode returns e's JSON form, which DecodeEdit reads back.
func (e Edit) Encode() ([]byte, error) {
	return json.Marshal(e)
}

func decodeStrict(data []byte, v any) error {
	if len(data) > MaxJSONSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadJSON, len(data), MaxJSONSize)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; refuse it
	// instead, so what is stored is what was sent.
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", ErrBadJSON, describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrBadJSON)
	}
	return nil
}

// describeJSONError rewrites encoding/json's errors to name the field in
// the form FieldError uses.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fmt.Sprintf("want a JSON object, got %s", typeErr.Value)
		}
		return fmt.Sprintf("%s: want %s, got %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("syntax error at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF):
		return "empty document"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "document ends early"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "float64", "float32":
		return "a number"
	case "int", "int64", "int32", "uint32", "uint64":
		return "a whole number"
	case "slice":
		return "a list"
	case "struct", "map":
		return "an object"
	}
	return goKind
}
