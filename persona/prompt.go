package persona

import (
	"errors"
	"fmt"
	"strings"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Role says who wrote a message.
type Role string

// Roles of messages.
const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one message of a conversation, as the model's chat template
// takes it.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Errors of prompt assembly.
var (
	// ErrNoUserMessage means the history does not end with a user message,
	// so there is nothing to answer.
	ErrNoUserMessage = errors.New("history does not end with a user message")
	// ErrPromptTooLong means the persona's prefix and the user's last
	// message alone exceed the token budget.
	ErrPromptTooLong = errors.New("prompt exceeds the token budget")
	// ErrNoCounter means PromptOptions.Count is nil.
	ErrNoCounter = errors.New("no token counter")
)

// PromptOptions control prompt assembly.
type PromptOptions struct {
	// Count returns the number of tokens of a text in the model's
	// vocabulary. Required.
	Count func(text string) int
	// Budget is the most tokens the prompt may take: the model's context
	// length minus the room kept for the reply. 0 means no limit.
	Budget int
	// PerMessage is the template's tokens around each message (role
	// headers, end-of-turn markers), added to every message's count; e.g.
	// about 5 for Llama 3, 8 for Llama 2.
	PerMessage int
}

// Prompt is an assembled conversation, ready for the model's chat template.
type Prompt struct {
	// Messages are the system prompt, the greeting (when the persona has
	// one), then the history that fit, ending with the user's message.
	Messages []Message
	// PrefixLen is how many leading messages are the persona's stable
	// prefix: identical, byte for byte, in every conversation with the same
	// version, so the engine's prefix cache can reuse their computation.
	PrefixLen int
	// Tokens is the prompt's size as counted with PromptOptions.
	Tokens int
	// Dropped is how many exchanges (a user message and the reply to it)
	// did not fit the budget and were left out, oldest first.
	Dropped int
}

// disclosure is the system prompt's AI-disclosure line.
const disclosure = "You are an AI, not a human. If anyone asks whether they are talking to a person or a bot, say plainly that you are an AI."

// SystemPrompt returns the system message of the persona s: who it is with
// the AI-disclosure line, its instructions, traits, topics to avoid and
// example exchanges. It depends on s alone, so it is the same text in every
// conversation.
func SystemPrompt(s Spec) string {
	var b strings.Builder
	name := strings.TrimSpace(s.Name)
	fmt.Fprintf(&b, "You are %s, an AI character chatting with a user. %s", name, disclosure)
	b.WriteString("\n\n# Instructions\n")
	b.WriteString(strings.TrimSpace(s.Instructions))
	if len(s.Traits) > 0 {
		b.WriteString("\n\n# Personality\nYour tone and traits: ")
		for i, t := range s.Traits {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strings.TrimSpace(t))
		}
		b.WriteString(".")
	}
	if len(s.AvoidTopics) > 0 {
		b.WriteString("\n\n# Topics to avoid\nDo not discuss the following topics. If the user brings one up, decline briefly and kindly and steer the conversation elsewhere.")
		for _, t := range s.AvoidTopics {
			b.WriteString("\n- ")
			b.WriteString(strings.TrimSpace(t))
		}
	}
	if len(s.Examples) > 0 {
		b.WriteString("\n\n# Example exchanges\nThese show your voice and style; do not repeat them word for word.")
		for _, ex := range s.Examples {
			fmt.Fprintf(&b, "\n\nUser: %s\n%s: %s", strings.TrimSpace(ex.User), name, strings.TrimSpace(ex.Assistant))
		}
	}
	return b.String()
}

// Prefix returns the persona's stable prefix: the system prompt and, when
// the persona has one, the greeting as the first assistant message. It is
// what warming the engine's prefix cache should use.
func Prefix(s Spec) []Message {
	msgs := []Message{{Role: System, Content: SystemPrompt(s)}}
	if g := strings.TrimSpace(s.Greeting); g != "" {
		msgs = append(msgs, Message{Role: Assistant, Content: g})
	}
	return msgs
}

// Assemble builds the prompt for the persona s answering the last message
// of history. history holds the conversation so far without the greeting,
// oldest first, and ends with the user message to answer; system messages
// in it are ignored, empty messages dropped and consecutive messages of
// one role joined, so the roles alternate as chat templates need. As much
// recent history as fits the budget is kept: whole exchanges (a user
// message and the reply to it) are dropped oldest first, never half of one.
func Assemble(s Spec, history []Message, o PromptOptions) (Prompt, error) {
	if o.Count == nil {
		return Prompt{}, ErrNoCounter
	}
	cost := func(m Message) int { return o.Count(m.Content) + o.PerMessage }
	prefix := Prefix(s)
	exchanges := splitExchanges(normalize(history))
	if len(exchanges) == 0 || exchanges[len(exchanges)-1].reply != nil {
		return Prompt{}, ErrNoUserMessage
	}
	p := Prompt{PrefixLen: len(prefix)}
	for _, m := range prefix {
		p.Tokens += cost(m)
	}
	// Walk back from the newest exchange; the last one is the question.
	keep := 0
	for i := len(exchanges) - 1; i >= 0; i-- {
		n := exchanges[i].cost(cost)
		if o.Budget > 0 && p.Tokens+n > o.Budget {
			if keep == 0 {
				return Prompt{}, fmt.Errorf("%w: the persona takes %d tokens and the message %d, the budget is %d",
					ErrPromptTooLong, p.Tokens, n, o.Budget)
			}
			break
		}
		p.Tokens += n
		keep++
	}
	p.Messages = append(p.Messages, prefix...)
	p.Dropped = len(exchanges) - keep
	for _, ex := range exchanges[p.Dropped:] {
		p.Messages = append(p.Messages, ex.user)
		if ex.reply != nil {
			p.Messages = append(p.Messages, *ex.reply)
		}
	}
	return p, nil
}

// exchange is a user message and the assistant's reply to it, if any yet.
type exchange struct {
	user  Message
	reply *Message
}

func (e exchange) cost(f func(Message) int) int {
	n := f(e.user)
	if e.reply != nil {
		n += f(*e.reply)
	}
	return n
}

// normalize drops system and empty messages and joins consecutive messages
// of one role (several user messages answered by one reply).
func normalize(history []Message) []Message {
	var out []Message
	for _, m := range history {
		if m.Role != User && m.Role != Assistant || strings.TrimSpace(m.Content) == "" {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Role == m.Role {
			out[n-1].Content += "\n\n" + m.Content
			continue
		}
		out = append(out, m)
	}
	return out
}

// splitExchanges groups alternating messages into exchanges. A leading
// assistant message answers nothing in the history and is left out.
func splitExchanges(msgs []Message) []exchange {
	var out []exchange
	for i := 0; i < len(msgs); i++ {
		if msgs[i].Role != User {
			continue
		}
		ex := exchange{user: msgs[i]}
		if i+1 < len(msgs) && msgs[i+1].Role == Assistant {
			r := msgs[i+1]
			ex.reply = &r
			i++
		}
		out = append(out, ex)
	}
	return out
}

// Proto returns the prompt as the ChatTurns of a GenerateRequest.
func (p Prompt) Proto() *corralv1.ChatTurns {
	turns := make([]*corralv1.ChatTurn, len(p.Messages))
	for i, m := range p.Messages {
		turns[i] = &corralv1.ChatTurn{Role: m.Role.proto(), Content: m.Content}
	}
	return &corralv1.ChatTurns{Turns: turns}
}

func (r Role) proto() corralv1.ChatRole {
	switch r {
	case System:
		return corralv1.ChatRole_CHAT_ROLE_SYSTEM
	case User:
		return corralv1.ChatRole_CHAT_ROLE_USER
	case Assistant:
		return corralv1.ChatRole_CHAT_ROLE_ASSISTANT
	}
	return corralv1.ChatRole_CHAT_ROLE_UNSPECIFIED
}
