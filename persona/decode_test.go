package persona_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona"
)

const fullJSON = `{
  "handle": "Luna_42",
  "visibility": "public",
  "name": "Luna",
  "avatar": "🌙",
  "description": "A calm night-sky guide.",
  "instructions": "You are Luna, who loves astronomy.\nExplain simply.",
  "greeting": "Hi, I'm Luna. What shall we look at tonight?",
  "examples": [{"user": "What is a comet?", "assistant": "A dirty snowball that grows a tail near the Sun."}],
  "traits": ["calm", "curious"],
  "avoid_topics": ["astrology"],
  "safety": {"strictness": "strict", "refusal_message": "Let's keep our eyes on the stars."},
  "generation": {"temperature": 0.8, "top_p": 0.95, "max_reply_tokens": 200, "model": "llama-3.2-1b-instruct"}
}`

func TestDecodeEdit(t *testing.T) {
	got, err := persona.DecodeEdit([]byte(fullJSON))
	if err != nil {
		t.Fatal(err)
	}
	if want := validEdit(); !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeEdit() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeEditDefaults(t *testing.T) {
	got, err := persona.DecodeEdit([]byte(`{"handle":"luna","name":"Luna","instructions":"Hi","generation":{"temperature":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := persona.NewEdit()
	want.Handle, want.Name, want.Instructions = "luna", "Luna", "Hi"
	want.Generation.Temperature = 0 // given, so not the default
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeEdit() =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("decoded minimal persona does not validate: %v", err)
	}
}

func TestDecodeEditRejects(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"empty", ``, "empty document"},
		{"not an object", `[1,2]`, "want a JSON object"},
		{"syntax error", `{"name": }`, "syntax error"},
		{"truncated", `{"name": "Lu`, "ends early"},
		{"unknown field", `{"nickname": "x"}`, `unknown field "nickname"`},
		{"unknown nested field", `{"generation": {"temp": 1}}`, `unknown field "temp"`},
		{"wrong type", `{"name": 7}`, "name: want a string, got number"},
		{"wrong nested type", `{"generation": {"max_reply_tokens": "many"}}`, "generation.max_reply_tokens: want a whole number, got string"},
		{"fractional integer", `{"generation": {"max_reply_tokens": 1.5}}`, "generation.max_reply_tokens"},
		{"list expected", `{"traits": "calm"}`, "traits: want a list, got string"},
		{"trailing data", `{"name": "a"} {"name": "b"}`, "data after the JSON object"},
		{"invalid UTF-8", "{\"name\": \"Lu\xffna\"}", "not valid UTF-8"},
		{"too large", `{"name": "` + strings.Repeat("a", persona.MaxJSONSize) + `"}`, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := persona.DecodeEdit([]byte(tt.json))
			if !errors.Is(err, persona.ErrBadJSON) {
				t.Fatalf("DecodeEdit() = %v, want ErrBadJSON", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestEditEncodeRoundTrip(t *testing.T) {
	e := validEdit()
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := persona.DecodeEdit(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", got, e)
	}
}

// FuzzDecodeEdit checks that any input either decodes or fails with
// ErrBadJSON, that validation never panics, and that a valid Edit survives
// Encode and DecodeEdit unchanged.
func FuzzDecodeEdit(f *testing.F) {
	f.Add([]byte(fullJSON))
	f.Add([]byte(`{"handle":"luna","name":"Luna","instructions":"Hi"}`))
	f.Add([]byte(`{"examples":[{"user":"a","assistant":"b"},{}],"traits":[],"avoid_topics":null}`))
	f.Add([]byte(`{"generation":{"temperature":1e308,"top_p":-0,"max_reply_tokens":9223372036854775807}}`))
	f.Add([]byte(`{"name":"\u0000\ud800","avatar":"👩🏽‍🚀"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := persona.DecodeEdit(data)
		if err != nil {
			if !errors.Is(err, persona.ErrBadJSON) {
				t.Fatalf("DecodeEdit() error %v does not match ErrBadJSON", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			if !errors.Is(err, persona.ErrInvalid) {
				t.Fatalf("Validate() error %v does not match ErrInvalid", err)
			}
			return
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode() of a valid Edit: %v", err)
		}
		back, err := persona.DecodeEdit(enc)
		if err != nil {
			t.Fatalf("DecodeEdit(Encode()) = %v", err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip changed the Edit:\n%+v\n%+v", back, e)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip made a valid Edit invalid: %v", err)
		}
	})
}
