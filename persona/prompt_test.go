package persona_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// words counts whitespace-separated words: a stand-in tokenizer whose
// counts are easy to follow.
func words(s string) int { return len(strings.Fields(s)) }

func user(s string) persona.Message { return persona.Message{Role: persona.User, Content: s} }
func bot(s string) persona.Message  { return persona.Message{Role: persona.Assistant, Content: s} }

func TestSystemPrompt(t *testing.T) {
	s := validEdit().Spec
	sys := persona.SystemPrompt(s)
	for _, want := range []string{
		"You are Luna, an AI character",
		"You are an AI, not a human.",
		"# Instructions\nYou are Luna, who loves astronomy.\nExplain simply.",
		"Your tone and traits: calm, curious.",
		"# Topics to avoid",
		"\n- astrology",
		"User: What is a comet?\nLuna: A dirty snowball",
	} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, sys)
		}
	}
	for _, absent := range []string{s.Description, s.Greeting} {
		if strings.Contains(sys, absent) {
			t.Errorf("system prompt holds %q, which the model should not see there", absent)
		}
	}
	minimal := persona.Spec{Name: "A", Instructions: "Be nice."}
	if got := persona.SystemPrompt(minimal); strings.Contains(got, "# Personality") || strings.Contains(got, "# Example") || strings.Contains(got, "avoid") {
		t.Errorf("empty sections rendered:\n%s", got)
	}
}

func TestAssemble(t *testing.T) {
	s := persona.Spec{Name: "Luna", Instructions: "Be kind.", Greeting: "Hello there!"}
	prefixCost := words(persona.SystemPrompt(s)) + 1 + 2 + 1 // system + greeting, 1 per message
	history := []persona.Message{
		user("one two"), bot("three four"), // exchange A: 6 with overhead
		user("five"), bot("six"), // B: 4
		user("seven eight nine"), // C: the question, 4
	}
	tests := []struct {
		name    string
		history []persona.Message
		budget  int
		want    []persona.Message
		dropped int
	}{
		{"no budget keeps all", history, 0, history, 0},
		{"exact fit keeps all", history, prefixCost + 14, history, 0},
		{"one short drops the oldest exchange", history, prefixCost + 13, history[2:], 1},
		{"never half an exchange", history, prefixCost + 7, history[4:], 2},
		{"only the question", history, prefixCost + 4, history[4:], 2},
		{"consecutive user messages are joined",
			[]persona.Message{user("hi"), bot("hey"), user("a"), user("b")}, 0,
			[]persona.Message{user("hi"), bot("hey"), user("a\n\nb")}, 0},
		{"system, empty and leading assistant messages are left out",
			[]persona.Message{bot("orphan"), {Role: persona.System, Content: "ignore me"}, user("hi"), bot(" "), user("there")}, 0,
			[]persona.Message{user("hi\n\nthere")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := persona.Assemble(s, tt.history, persona.PromptOptions{Count: words, Budget: tt.budget, PerMessage: 1})
			if err != nil {
				t.Fatal(err)
			}
			want := append(persona.Prefix(s), tt.want...)
			if !reflect.DeepEqual(p.Messages, want) {
				t.Errorf("messages\n%v\nwant\n%v", p.Messages, want)
			}
			if p.PrefixLen != 2 || p.Dropped != tt.dropped {
				t.Errorf("prefix %d dropped %d, want 2 and %d", p.PrefixLen, p.Dropped, tt.dropped)
			}
			if tt.budget > 0 && p.Tokens > tt.budget {
				t.Errorf("counted %d tokens, over the budget %d", p.Tokens, tt.budget)
			}
			sum := 0
			for _, m := range p.Messages {
				sum += words(m.Content) + 1
			}
			if sum != p.Tokens {
				t.Errorf("Tokens = %d, messages count %d", p.Tokens, sum)
			}
		})
	}
}

func TestAssembleWithoutGreeting(t *testing.T) {
	s := persona.Spec{Name: "Luna", Instructions: "Be kind."}
	p, err := persona.Assemble(s, []persona.Message{user("hi")}, persona.PromptOptions{Count: words})
	if err != nil {
		t.Fatal(err)
	}
	if p.PrefixLen != 1 || len(p.Messages) != 2 || p.Messages[0].Role != persona.System || p.Messages[1] != user("hi") {
		t.Errorf("got %+v", p)
	}
}

func TestAssembleErrors(t *testing.T) {
	s := persona.Spec{Name: "Luna", Instructions: "Be kind.", Greeting: "Hi"}
	tests := []struct {
		name    string
		history []persona.Message
		opts    persona.PromptOptions
		err     error
	}{
		{"empty history", nil, persona.PromptOptions{Count: words}, persona.ErrNoUserMessage},
		{"ends with a reply", []persona.Message{user("a"), bot("b")}, persona.PromptOptions{Count: words}, persona.ErrNoUserMessage},
		{"only system messages", []persona.Message{{Role: persona.System, Content: "x"}}, persona.PromptOptions{Count: words}, persona.ErrNoUserMessage},
		{"question over the budget", []persona.Message{user(strings.Repeat("w ", 100))}, persona.PromptOptions{Count: words, Budget: 50}, persona.ErrPromptTooLong},
		{"persona over the budget", []persona.Message{user("a")}, persona.PromptOptions{Count: words, Budget: 3}, persona.ErrPromptTooLong},
		{"no counter", []persona.Message{user("a")}, persona.PromptOptions{}, persona.ErrNoCounter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := persona.Assemble(s, tt.history, tt.opts); !errors.Is(err, tt.err) {
				t.Errorf("Assemble() error = %v, want %v", err, tt.err)
			}
		})
	}
}

// TestStablePrefix checks that the persona part is the same, byte for byte,
// whatever the conversation and however much of it fits.
func TestStablePrefix(t *testing.T) {
	s := validEdit().Spec
	histories := [][]persona.Message{
		{user("hi")},
		{user("what is a star?"), bot("A ball of hot gas."), user("and a planet?")},
		{user(strings.Repeat("long ", 50)), bot("ok"), user("short")},
	}
	var first []persona.Message
	for i, h := range histories {
		p, err := persona.Assemble(s, h, persona.PromptOptions{Count: words, Budget: 200, PerMessage: 4})
		if err != nil {
			t.Fatal(err)
		}
		prefix := p.Messages[:p.PrefixLen]
		if i == 0 {
			first = prefix
			continue
		}
		if !reflect.DeepEqual(prefix, first) {
			t.Errorf("conversation %d has a different prefix:\n%v\n%v", i, prefix, first)
		}
	}
	// Another version's prefix differs.
	s2 := s.Clone()
	s2.Traits = append(s2.Traits, "witty")
	if reflect.DeepEqual(persona.Prefix(s2), first) {
		t.Error("a changed persona has the same prefix")
	}
}

func TestPromptProto(t *testing.T) {
	p := persona.Prompt{Messages: []persona.Message{{Role: persona.System, Content: "s"}, bot("g"), user("u")}}
	turns := p.Proto().GetTurns()
	want := []corralv1.ChatRole{corralv1.ChatRole_CHAT_ROLE_SYSTEM, corralv1.ChatRole_CHAT_ROLE_ASSISTANT, corralv1.ChatRole_CHAT_ROLE_USER}
	for i, tr := range turns {
		if tr.GetRole() != want[i] || tr.GetContent() != p.Messages[i].Content {
			t.Errorf("turn %d = %v", i, tr)
		}
	}
}

// BenchmarkAssemble assembles a prompt from a full persona and a history
// of 50 messages under a budget that keeps about half of it.
func BenchmarkAssemble(b *testing.B) {
	s := validEdit().Spec
	var history []persona.Message
	for i := range 25 {
		history = append(history, user(strings.Repeat("word ", 20+i)), bot(strings.Repeat("reply ", 30)))
	}
	history = append(history, user("and now?"))
	opts := persona.PromptOptions{Count: words, Budget: 1000, PerMessage: 5}
	for b.Loop() {
		if _, err := persona.Assemble(s, history, opts); err != nil {
			b.Fatal(err)
		}
	}
}
