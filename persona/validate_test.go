package persona_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona"
)

// validEdit returns an Edit that passes validation and uses every field.
func validEdit() persona.Edit {
	e := persona.NewEdit()
	e.Handle = "Luna_42"
	e.Visibility = persona.Public
	e.Name = "Luna"
	e.Avatar = "🌙"
	e.Description = "A calm night-sky guide."
	e.Instructions = "You are Luna, who loves astronomy.\nExplain simply."
	e.Greeting = "Hi, I'm Luna. What shall we look at tonight?"
	e.Examples = []persona.Example{{User: "What is a comet?", Assistant: "A dirty snowball that grows a tail near the Sun."}}
	e.Traits = []string{"calm", "curious"}
	e.AvoidTopics = []string{"astrology"}
	e.Safety = persona.Safety{Strictness: persona.Strict, RefusalMessage: "Let's keep our eyes on the stars."}
	e.Generation = persona.Generation{Temperature: 0.8, TopP: 0.95, MaxReplyTokens: 200, Model: "llama-3.2-1b-instruct"}
	return e
}

func TestValidateAcceptsValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func() persona.Edit
	}{
		{"every field", validEdit},
		{"only required fields", func() persona.Edit {
			e := persona.NewEdit()
			e.Handle, e.Name, e.Instructions = "abc", "A", "Be nice."
			return e
		}},
		{"limits reached in characters, not bytes", func() persona.Edit {
			e := validEdit()
			e.Name = strings.Repeat("月", persona.NameMaxLen) // 150 bytes
			e.Instructions = strings.Repeat("🌙", persona.InstructionsMaxLen)
			e.Handle = "a" + strings.Repeat("b", persona.HandleMaxLen-1)
			return e
		}},
		{"edge values of generation", func() persona.Edit {
			e := validEdit()
			e.Generation = persona.Generation{Temperature: 0, TopP: 1, MaxReplyTokens: persona.MaxReplyTokensMin}
			return e
		}},
		{"upper edge values of generation", func() persona.Edit {
			e := validEdit()
			e.Generation = persona.Generation{Temperature: persona.TemperatureMax, TopP: 0.01, MaxReplyTokens: persona.MaxReplyTokensMax}
			return e
		}},
		{"avatar URL", func() persona.Edit {
			e := validEdit()
			e.Avatar = "https://cdn.example.com/a/luna.png?size=128"
			return e
		}},
		{"avatar emoji sequences", func() persona.Edit {
			e := validEdit()
			e.Avatar = "👩🏽‍🚀"
			return e
		}},
		{"built-in default persona", func() persona.Edit {
			return persona.Edit{Handle: "someone", Visibility: persona.Private, Spec: persona.Default().Spec}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.edit().Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

// TestValidateFields changes one field of a valid Edit at a time and checks
// that exactly that field is reported, with a reason that says what to do.
func TestValidateFields(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *persona.Edit)
		field  string
		reason string // a substring of the reason
	}{
		{"handle missing", func(e *persona.Edit) { e.Handle = "" }, "handle", "is required"},
		{"handle too short", func(e *persona.Edit) { e.Handle = "ab" }, "handle", "3 to 30 characters long, not 2"},
		{"handle too long", func(e *persona.Edit) { e.Handle = strings.Repeat("a", 31) }, "handle", "not 31"},
		{"handle with a dash", func(e *persona.Edit) { e.Handle = "luna-bot" }, "handle", `'-' at position 5`},
		{"handle with a space", func(e *persona.Edit) { e.Handle = "luna bot" }, "handle", "letters, digits and underscores"},
		{"handle with an at sign", func(e *persona.Edit) { e.Handle = "@luna" }, "handle", `'@' at position 1`},
		{"handle non-ASCII", func(e *persona.Edit) { e.Handle = "lunä" }, "handle", "ASCII"},
		{"handle starting with a digit", func(e *persona.Edit) { e.Handle = "42luna" }, "handle", "start with a letter"},
		{"handle starting with an underscore", func(e *persona.Edit) { e.Handle = "_luna" }, "handle", "start with a letter"},
		{"handle reserved", func(e *persona.Edit) { e.Handle = "Assistant" }, "handle", "reserved"},
		{"visibility unknown", func(e *persona.Edit) { e.Visibility = "friends" }, "visibility", `"private", "unlisted" or "public"`},
		{"visibility empty", func(e *persona.Edit) { e.Visibility = "" }, "visibility", "not \"\""},
		{"name missing", func(e *persona.Edit) { e.Name = "" }, "name", "is required"},
		{"name blank", func(e *persona.Edit) { e.Name = " \t" }, "name", "is required"},
		{"name too long", func(e *persona.Edit) { e.Name = strings.Repeat("é", 51) }, "name", "at most 50 characters, not 51"},
		{"name on two lines", func(e *persona.Edit) { e.Name = "Lu\nna" }, "name", "single line"},
		{"name with a control character", func(e *persona.Edit) { e.Name = "Lu\x00na" }, "name", "control character U+0000 at position 3"},
		{"name invalid UTF-8", func(e *persona.Edit) { e.Name = "Lu\xffna" }, "name", "UTF-8"},
		{"avatar plain text", func(e *persona.Edit) { e.Avatar = "moon" }, "avatar", "https:// image URL or a single emoji"},
		{"avatar two emoji", func(e *persona.Edit) { e.Avatar = "🌙🌙" }, "avatar", "single emoji"},
		{"avatar digit without keycap", func(e *persona.Edit) { e.Avatar = "7" }, "avatar", "single emoji"},
		{"avatar http URL", func(e *persona.Edit) { e.Avatar = "http://example.com/a.png" }, "avatar", `https, not "http"`},
		{"avatar URL without host", func(e *persona.Edit) { e.Avatar = "https:///a.png" }, "avatar", "host"},
		{"avatar URL with password", func(e *persona.Edit) { e.Avatar = "https://u:p@example.com/a.png" }, "avatar", "password"},
		{"avatar URL too long", func(e *persona.Edit) { e.Avatar = "https://example.com/" + strings.Repeat("a", 500) }, "avatar", "at most 500"},
		{"avatar javascript URL", func(e *persona.Edit) { e.Avatar = "javascript://alert(1)" }, "avatar", "https"},
		{"description too long", func(e *persona.Edit) { e.Description = strings.Repeat("d", 301) }, "description", "at most 300"},
		{"description only spaces", func(e *persona.Edit) { e.Description = "   " }, "description", "only white space"},
		{"instructions missing", func(e *persona.Edit) { e.Instructions = "" }, "instructions", "is required"},
		{"instructions too long", func(e *persona.Edit) { e.Instructions = strings.Repeat("i", 4001) }, "instructions", "at most 4000"},
		{"instructions with escape", func(e *persona.Edit) { e.Instructions = "red \x1b[31m" }, "instructions", "U+001B"},
		{"greeting too long", func(e *persona.Edit) { e.Greeting = strings.Repeat("g", 501) }, "greeting", "at most 500"},
		{"too many examples", func(e *persona.Edit) {
			e.Examples = make([]persona.Example, 6)
			for i := range e.Examples {
				e.Examples[i] = persona.Example{User: "q", Assistant: "a"}
			}
		}, "examples", "at most 5 examples, not 6"},
		{"example without user", func(e *persona.Edit) { e.Examples[0].User = "" }, "examples[0].user", "is required"},
		{"example without answer", func(e *persona.Edit) { e.Examples[0].Assistant = " " }, "examples[0].assistant", "is required"},
		{"example user too long", func(e *persona.Edit) { e.Examples[0].User = strings.Repeat("u", 501) }, "examples[0].user", "at most 500"},
		{"example answer too long", func(e *persona.Edit) { e.Examples[0].Assistant = strings.Repeat("a", 1001) }, "examples[0].assistant", "at most 1000"},
		{"too many traits", func(e *persona.Edit) {
			e.Traits = nil
			for i := range 11 {
				e.Traits = append(e.Traits, strings.Repeat("t", i+1))
			}
		}, "traits", "at most 10 entries, not 11"},
		{"empty trait", func(e *persona.Edit) { e.Traits[1] = "" }, "traits[1]", "is required"},
		{"trait too long", func(e *persona.Edit) { e.Traits[0] = strings.Repeat("t", 41) }, "traits[0]", "at most 40"},
		{"trait on two lines", func(e *persona.Edit) { e.Traits[0] = "warm\nkind" }, "traits[0]", "single line"},
		{"trait repeated", func(e *persona.Edit) { e.Traits[1] = " CALM" }, "traits[1]", "repeats traits[0]"},
		{"too many topics", func(e *persona.Edit) {
			e.AvoidTopics = nil
			for i := range 21 {
				e.AvoidTopics = append(e.AvoidTopics, strings.Repeat("x", i+1))
			}
		}, "avoid_topics", "at most 20 entries, not 21"},
		{"topic too long", func(e *persona.Edit) { e.AvoidTopics[0] = strings.Repeat("x", 101) }, "avoid_topics[0]", "at most 100"},
		{"topic blank", func(e *persona.Edit) { e.AvoidTopics[0] = "\t" }, "avoid_topics[0]", "is required"},
		{"strictness unknown", func(e *persona.Edit) { e.Safety.Strictness = "off" }, "safety.strictness", `"standard", "strict" or "strictest", not "off"`},
		{"refusal too long", func(e *persona.Edit) { e.Safety.RefusalMessage = strings.Repeat("r", 301) }, "safety.refusal_message", "at most 300"},
		{"temperature negative", func(e *persona.Edit) { e.Generation.Temperature = -0.1 }, "generation.temperature", "from 0 (most predictable) to 2"},
		{"temperature too high", func(e *persona.Edit) { e.Generation.Temperature = 2.01 }, "generation.temperature", "not 2.01"},
		{"temperature NaN", func(e *persona.Edit) { e.Generation.Temperature = math.NaN() }, "generation.temperature", "not NaN"},
		{"top_p zero", func(e *persona.Edit) { e.Generation.TopP = 0 }, "generation.top_p", "above 0 and at most 1"},
		{"top_p above one", func(e *persona.Edit) { e.Generation.TopP = 1.5 }, "generation.top_p", "not 1.5"},
		{"top_p infinite", func(e *persona.Edit) { e.Generation.TopP = math.Inf(1) }, "generation.top_p", "not +Inf"},
		{"max reply tokens too small", func(e *persona.Edit) { e.Generation.MaxReplyTokens = 15 }, "generation.max_reply_tokens", "from 16 to 4096 tokens, not 15"},
		{"max reply tokens too large", func(e *persona.Edit) { e.Generation.MaxReplyTokens = 4097 }, "generation.max_reply_tokens", "not 4097"},
		{"model with a space", func(e *persona.Edit) { e.Generation.Model = "llama 3" }, "generation.model", "without spaces"},
		{"model too long", func(e *persona.Edit) { e.Generation.Model = strings.Repeat("m", 101) }, "generation.model", "at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEdit()
			tt.change(&e)
			err := e.Validate()
			if !errors.Is(err, persona.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error matching ErrInvalid", err)
			}
			var verr *persona.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %T, want *ValidationError", err)
			}
			if len(verr.Fields) != 1 || verr.Fields[0].Field != tt.field {
				t.Fatalf("Validate() reports %v, want only field %q", verr.Fields, tt.field)
			}
			if r := verr.Field(tt.field); !strings.Contains(r, tt.reason) {
				t.Errorf("reason %q does not contain %q", r, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.field+": ") {
				t.Errorf("error text %q does not name the field", err)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	e := persona.Edit{} // nothing set at all
	err := e.Validate()
	var verr *persona.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate() = %v", err)
	}
	want := []string{"handle", "visibility", "name", "instructions", "safety.strictness",
		"generation.top_p", "generation.max_reply_tokens"}
	var got []string
	for _, f := range verr.Fields {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fields %v, want %v", got, want)
	}
}

func TestValidateHandle(t *testing.T) {
	for _, tc := range []struct {
		handle string
		ok     bool
	}{
		{"luna", true}, {"Luna_Bot_2", true}, {"abc", true}, {"ab", false}, {"luna.bot", false},
		{"DEFAULT", false}, {"persona", false}, {"", false},
	} {
		t.Run(tc.handle, func(t *testing.T) {
			if err := persona.ValidateHandle(tc.handle); (err == nil) != tc.ok {
				t.Errorf("ValidateHandle(%q) = %v, want ok=%v", tc.handle, err, tc.ok)
			}
		})
	}
}

func TestHandleKey(t *testing.T) {
	for in, want := range map[string]string{"Luna": "luna", "@LUNA_2": "luna_2", "luna": "luna"} {
		if got := persona.HandleKey(in); got != want {
			t.Errorf("HandleKey(%q) = %q, want %q", in, got, want)
		}
	}
}
