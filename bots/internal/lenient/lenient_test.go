package lenient

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "string", in: `"abc"`, want: "abc"},
		{name: "escaped", in: `"caf\u00e9 \ud83d\ude00"`, want: "café 😀"},
		{name: "lone surrogate becomes replacement", in: `"\ud800x"`, want: "\ufffdx"},
		{name: "big number keeps digits", in: `7300000000000042`, want: "7300000000000042"},
		{name: "negative number", in: `-12`, want: "-12"},
		{name: "float", in: `1.5e3`, want: "1.5e3"},
		{name: "bool", in: `true`, want: "true"},
		{name: "null", in: `null`, want: ""},
		{name: "object", in: `{"a":1}`, wantErr: true},
		{name: "array", in: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s String
			err := json.Unmarshal([]byte(tt.in), &s)
			if tt.wantErr {
				if !errors.Is(err, ErrType) {
					t.Fatalf("err = %v, want ErrType", err)
				}
				return
			}
			if err != nil || string(s) != tt.want {
				t.Fatalf("got %q, %v; want %q", s, err, tt.want)
			}
		})
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{name: "number", in: `1733310000`, want: 1733310000},
		{name: "string", in: `"1733310000"`, want: 1733310000},
		{name: "float integral", in: `1.733310000123e12`, want: 1733310000123},
		{name: "string float", in: `"1e3"`, want: 1000},
		{name: "empty string", in: `""`, want: 0},
		{name: "null", in: `null`, want: 0},
		{name: "fraction", in: `1.5`, wantErr: true},
		{name: "words", in: `"soon"`, wantErr: true},
		{name: "huge", in: `1e40`, wantErr: true},
		{name: "object", in: `{}`, wantErr: true},
		{name: "bool", in: `true`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n Int
			err := json.Unmarshal([]byte(tt.in), &n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && int64(n) != tt.want {
				t.Fatalf("got %d, want %d", n, tt.want)
			}
		})
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		name, in string
		want     float64
		wantErr  bool
	}{
		{name: "number", in: `19.4326`, want: 19.4326},
		{name: "string", in: `"-99.1332"`, want: -99.1332},
		{name: "null", in: `null`},
		{name: "nan string", in: `"NaN"`, wantErr: true},
		{name: "array", in: `[]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Float
			err := json.Unmarshal([]byte(tt.in), &f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && float64(f) != tt.want {
				t.Fatalf("got %v, want %v", f, tt.want)
			}
		})
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{`true`: true, `"true"`: true, `1`: true, `false`: false, `"false"`: false, `0`: false, `null`: false} {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("%s: got %v, %v; want %v", in, b, err, want)
		}
	}
	var b Bool
	if err := json.Unmarshal([]byte(`"yes"`), &b); err == nil {
		t.Error(`"yes" accepted`)
	}
}

// FuzzScalars checks that no input panics and that direct calls with
// arbitrary bytes (not only valid JSON tokens) are safe.
func FuzzScalars(f *testing.F) {
	for _, s := range []string{`"a"`, `1`, `"1"`, `null`, `"`, ``, `"\u00e9"`, `1e400`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s String
		_ = s.UnmarshalJSON(data)
		var n Int
		_ = n.UnmarshalJSON(data)
		var fl Float
		_ = fl.UnmarshalJSON(data)
		var b Bool
		_ = b.UnmarshalJSON(data)
		_ = json.Unmarshal(data, &s)
	})
}

func TestTime(t *testing.T) {
	tests := []struct {
		name string
		in   int64
		want time.Time
	}{
		{name: "seconds", in: 1733310000, want: time.Unix(1733310000, 0).UTC()},
		{name: "milliseconds", in: 1733310000123, want: time.UnixMilli(1733310000123).UTC()},
		{name: "zero", in: 0},
		{name: "negative", in: -5},
		{name: "last millisecond of 9999", in: 253402300799999, want: time.UnixMilli(253402300799999).UTC()},
		{name: "after 9999", in: 1000000000000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Time(tt.in); !got.Equal(tt.want) {
				t.Fatalf("Time(%d) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	var v struct {
		A List `json:"a"`
		B List `json:"b"`
		C List `json:"c"`
		D int  `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"a":[1,{"x":2},null],"b":"nope","c":null,"d":4}`), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.A.Items) != 3 || string(v.A.Items[1]) != `{"x":2}` || !IsNull(v.A.Items[2]) || v.A.Invalid != nil {
		t.Errorf("a = %+v", v.A)
	}
	if v.B.Items != nil || string(v.B.Invalid) != `"nope"` {
		t.Errorf("b = %+v", v.B)
	}
	if v.C.Items != nil || v.C.Invalid != nil || v.D != 4 {
		t.Errorf("c = %+v, d = %d", v.C, v.D)
	}
}

func TestSplitArray(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{in: `[]`, want: []string{}, ok: true},
		{in: ` [ ] `, want: []string{}, ok: true},
		{in: `[1]`, want: []string{"1"}, ok: true},
		{in: `[1, "a,b", {"x":[1,2]}, [3], null, "q\"]"]`, want: []string{"1", `"a,b"`, `{"x":[1,2]}`, "[3]", "null", `"q\"]"`}, ok: true},
		{in: `["\\", 2]`, want: []string{`"\\"`, "2"}, ok: true},
		{in: `[1,]`},
		{in: `[,1]`},
		{in: `[1,,2]`},
		{in: `["open]`},
		{in: `[{]`},
		{in: `[}]`},
		{in: `{}`},
	}
	for _, tt := range tests {
		items, ok := splitArray([]byte(tt.in))
		if ok != tt.ok {
			t.Errorf("splitArray(%s) ok = %v", tt.in, ok)
			continue
		}
		var got []string
		for _, it := range items {
			got = append(got, string(it))
		}
		if ok && strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitArray(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzList checks that splitting agrees with the standard decoder on every
// input the decoder accepts as an array.
func FuzzList(f *testing.F) {
	for _, s := range []string{`[1,"a",{"b":[2]}]`, `[]`, `["\"",null]`, `[ {"x" : "]"} , 3 ]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want []json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		var l List
		if err := json.Unmarshal(data, &l); err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(l.Items) != len(want) {
			t.Fatalf("%d items, want %d", len(l.Items), len(want))
		}
		for i := range want {
			if !bytes.Equal(l.Items[i], bytes.TrimSpace(want[i])) {
				t.Fatalf("item %d = %s, want %s", i, l.Items[i], want[i])
			}
		}
	})
}

// FuzzUnquote checks unquote against encoding/json on any input: the same
// string for a literal, an error for anything else.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"abc"`, `"caf\u00e9 \ud83d\ude00"`, `"\ud800x"`, `"\ud800\ud800"`, `"\udc00\ud83d\ude00"`,
		`"a\"b\\c\/d\b\f\n\r\t"`, "\"caf\xc3\xa9\"", "\"\xff\xfe\"", "\"\xed\xa0\x80\"", `"\u00"`, `"\x"`, `"a"b"`, `"`, `""`,
		` "a"`, `"\'"`, "\"\x01\"", `"\uD83D\uDE00"`, `"\u0000"`, `"1733310000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := unquote(data)
		want, werr := unquoteSlow(data)
		if (err == nil) != (werr == nil) || got != want {
			t.Fatalf("unquote(%q) = %q, %v; encoding/json %q, %v", data, got, err, want, werr)
		}
	})
}
