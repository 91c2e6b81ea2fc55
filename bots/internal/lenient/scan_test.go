package lenient

import (
	"errors"
	"strings"
	"testing"
)

// pair is a small shape for the scanner tests.
type pair struct {
	ID   String
	N    Int
	Next *pair
}

func decodePair(s *Scanner, p *pair) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "id":
			return true, s.Scalar(&p.ID)
		case "n":
			return true, s.Scalar(&p.N)
		case "next":
			return true, Ptr(s, &p.Next, decodePair)
		}
		return false, nil
	})
}

func TestScannerObject(t *testing.T) {
	tests := []struct {
		name, in string
		want     pair
		wantErr  bool
	}{
		{name: "fields", in: `{"id":"a","n":"7"}`, want: pair{ID: "a", N: 7}},
		{name: "number id keeps digits", in: `{"id":7300000000000042}`, want: pair{ID: "7300000000000042"}},
		{name: "unknown keys of every kind skipped", in: ` { "x" : {"id":[1,{"}":"]"}]}, "y":"\"}", "z":-1.5e3, "w":null, "id":"b" } `, want: pair{ID: "b"}},
		{name: "nested", in: `{"next":{"id":"c","next":null}}`, want: pair{Next: &pair{ID: "c"}}},
		{name: "escaped value", in: `{"id":"caf\u00e9"}`, want: pair{ID: "café"}},
		{name: "empty", in: `{}`},
		{name: "known key twice", in: `{"id":"a","id":"b"}`, wantErr: true},
		{name: "unknown key twice is fine", in: `{"x":1,"x":2,"id":"a"}`, want: pair{ID: "a"}},
		{name: "key differing in case", in: `{"ID":"a"}`, wantErr: true},
		{name: "non-ASCII key (ſ folds to s)", in: "{\"\u017fomething\":1,\"id\":\"a\"}", wantErr: true},
		{name: "escaped key", in: `{"\u0069d":"a"}`, wantErr: true},
		{name: "object where a scalar belongs", in: `{"id":{"a":1}}`, wantErr: true},
		{name: "scalar where an object belongs", in: `{"next":"x"}`, wantErr: true},
		{name: "array", in: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := NewScanner([]byte(tt.in))
			if !ok {
				t.Fatalf("NewScanner refused %s", tt.in)
			}
			var got pair
			err := decodePair(s, &got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.want.ID || got.N != tt.want.N || (got.Next == nil) != (tt.want.Next == nil) ||
				(got.Next != nil && got.Next.ID != tt.want.Next.ID) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if s.Next() != 0 {
				t.Fatalf("text left after the object: %q", tt.in[s.pos:])
			}
		})
	}
}

func TestScannerRefusesInvalid(t *testing.T) {
	for _, in := range []string{"", `{"a":}`, `{"a":1,}`, `[01]`, "{\"a\":\"\x01\"}", `{} {}`} {
		if _, ok := NewScanner([]byte(in)); ok {
			t.Errorf("NewScanner accepted %q", in)
		}
	}
}

func TestItems(t *testing.T) {
	tests := []struct {
		name, in string
		// each item: "null", "failed:<raw>" or the decoded id
		want    []string
		wantErr bool
	}{
		{name: "all good", in: `[{"id":"a"},{"id":"b"}]`, want: []string{"a", "b"}},
		{name: "null", in: `null`},
		{name: "empty", in: `[]`},
		{name: "bad items kept raw", in: `[ {"id":"a"}, {"id":[1, 2]} ,null,"x",{"id":"d"}]`,
			want: []string{"a", `failed:{"id":[1, 2]}`, "null", `failed:"x"`, "d"}},
		{name: "not a list", in: `{"id":"a"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := NewScanner([]byte(tt.in))
			if !ok {
				t.Fatalf("NewScanner refused %s", tt.in)
			}
			items, err := Items(s, decodePair)
			if tt.wantErr {
				if !errors.Is(err, ErrShape) {
					t.Fatalf("err = %v, want ErrShape", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				switch {
				case it.Null:
					got = append(got, "null")
				case it.Failed:
					got = append(got, "failed:"+string(it.Raw))
				default:
					got = append(got, string(it.Value.ID))
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScannerList(t *testing.T) {
	tests := []struct {
		in        string
		items     []string
		invalid   string
		nilItems  bool
		wantError bool
	}{
		{in: `[ 1 , {"a":[2]} ,null]`, items: []string{"1", `{"a":[2]}`, "null"}},
		{in: `[]`, items: []string{}},
		{in: `null`, nilItems: true},
		{in: `"nope"`, invalid: `"nope"`, nilItems: true},
	}
	for _, tt := range tests {
		s, _ := NewScanner([]byte(tt.in))
		var l List
		if err := s.List(&l); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		var want List
		if err := want.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Fatal(err)
		}
		if (l.Items == nil) != tt.nilItems || (want.Items == nil) != tt.nilItems || string(l.Invalid) != tt.invalid {
			t.Fatalf("%s: got %+v, List.UnmarshalJSON %+v", tt.in, l, want)
		}
		for i := range tt.items {
			if string(l.Items[i]) != tt.items[i] || string(want.Items[i]) != tt.items[i] {
				t.Fatalf("%s: item %d = %q, List.UnmarshalJSON %q, want %q", tt.in, i, l.Items[i], want.Items[i], tt.items[i])
			}
		}
	}
}
