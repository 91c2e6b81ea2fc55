// Package chattemplate turns a conversation into the prompt a chat model was
// trained on: Llama 3, Llama 2 or ChatML.
//
// The format is chosen by recognising the model's tokenizer.chat_template
// (Detect, by markers such as <|start_header_id|>, so whitespace and
// wording variants of the Jinja source do not matter) or by name (ByName);
// Select does both, the name overriding. Templates are not executed: each
// format is written out in Go, and golden tests pin its text and ids.
//
// Apply produces the prompt text and its token ids, ending with the
// assistant header so the model generates the reply. Marker tokens are
// inserted by id, and the message texts are encoded with special-token
// parsing off, so a user who types "<|eot_id|>" gets those characters, not
// the control token.
package chattemplate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/corral-ai/corral/inference/tokenizer"
)

// Errors returned by this package.
var (
	// ErrUnknownTemplate means a chat template or template name is not one
	// of the supported formats.
	ErrUnknownTemplate = errors.New("unknown chat template")
	// ErrNoTemplate means the model carries no chat template and no name
	// was given.
	ErrNoTemplate = errors.New("no chat template")
	// ErrConversation means the conversation cannot be rendered.
	ErrConversation = errors.New("invalid conversation")
	// ErrMissingToken means the vocabulary lacks a token the format needs.
	ErrMissingToken = errors.New("vocabulary lacks a chat token")
)

// Role says who wrote a turn.
type Role string

// Roles of conversation turns.
const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Turn is one message of a conversation.
type Turn struct {
	Role    Role
	Content string
}

// Conversation is a system prompt (may be empty) and the turns so far,
// alternating user and assistant and ending with the user. They start with
// the user, or with one assistant turn that opens the conversation (a
// persona's greeting); Llama 2, whose format has no place for that, renders
// it as the answer to an empty first user message.
type Conversation struct {
	System string
	Turns  []Turn
}

// Prompt is a rendered conversation.
type Prompt struct {
	// Text is the prompt with every special token written out.
	Text string
	// IDs are the prompt's tokens, starting with the BOS token when the
	// format uses one.
	IDs []int32
}

// Template is one chat format. The package-level values Llama3, Llama2 and
// ChatML are the only ones.
type Template struct {
	name    string
	markers []string // all present in a chat_template of this format
	render  func(c Conversation) []segment
	stops   func(tok *tokenizer.Tokenizer) []int32
}

// Name returns the format's name, as accepted by ByName.
func (t *Template) Name() string { return t.name }

func (t *Template) String() string { return t.name }

// templates in detection order.
var templates = []*Template{Llama3, ChatML, Llama2}

// Names returns the names of the supported formats.
func Names() []string {
	names := make([]string, len(templates))
	for i, t := range templates {
		names[i] = t.name
	}
	slices.Sort(names)
	return names
}

func supported() string { return strings.Join(Names(), ", ") }

// ByName returns the format called name.
func ByName(name string) (*Template, error) {
	for _, t := range templates {
		if t.name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w %q (supported: %s)", ErrUnknownTemplate, name, supported())
}

// Detect recognises the format of a Jinja chat template, as found in a
// model's tokenizer.chat_template.
func Detect(chatTemplate string) (*Template, error) {
	if strings.TrimSpace(chatTemplate) == "" {
		return nil, fmt.Errorf("%w in the model; name one of: %s", ErrNoTemplate, supported())
	}
	src := strings.Join(strings.Fields(chatTemplate), "")
	for _, t := range templates {
		if containsAll(src, t.markers) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: the model's template is none of the supported formats (%s); name one to override", ErrUnknownTemplate, supported())
}

// Select returns the format called override when it is not empty, else the
// one Detect recognises in chatTemplate.
func Select(chatTemplate, override string) (*Template, error) {
	if override != "" {
		return ByName(override)
	}
	return Detect(chatTemplate)
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Apply renders the conversation for tok's vocabulary, ready for the model
// to write the assistant's reply.
func (t *Template) Apply(tok *tokenizer.Tokenizer, c Conversation) (Prompt, error) {
	if err := c.validate(); err != nil {
		return Prompt{}, err
	}
	var p Prompt
	var text strings.Builder
	for _, s := range mergeText(t.render(c)) {
		switch s.kind {
		case segText:
			text.WriteString(s.text)
			p.IDs = append(p.IDs, tok.Encode(s.text, tokenizer.EncodeOptions{})...)
			continue
		case segBOSIfWanted:
			if !tok.AddBOS() || tok.BOS() == tokenizer.NoToken {
				continue
			}
		}
		id, err := s.token(tok)
		if err != nil {
			return Prompt{}, fmt.Errorf("apply %s template: %w", t.name, err)
		}
		text.WriteString(tok.Text(id))
		p.IDs = append(p.IDs, id)
	}
	p.Text = text.String()
	return p, nil
}

// StopTokens returns the tokens that end the assistant's reply in this
// format, those of them the vocabulary has, and always its EOS.
func (t *Template) StopTokens(tok *tokenizer.Tokenizer) []int32 {
	var ids []int32
	for _, id := range append(t.stops(tok), tok.EOS()) {
		if id != tokenizer.NoToken && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// lookup returns the ids of the named tokens the vocabulary has.
func lookup(tok *tokenizer.Tokenizer, names ...string) []int32 {
	var ids []int32
	for _, n := range names {
		if id, ok := tok.Lookup(n); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func (c Conversation) validate() error {
	if len(c.Turns) == 0 {
		return fmt.Errorf("%w: no turns", ErrConversation)
	}
	// An opening assistant turn shifts the alternation by one.
	first := 0
	if c.Turns[0].Role == Assistant {
		first = 1
	}
	for i, turn := range c.Turns {
		want := User
		if (i+first)%2 == 1 {
			want = Assistant
		}
		if turn.Role != want {
			return fmt.Errorf("%w: turn %d is %q, want %q (turns alternate, starting with the user or one opening assistant turn)", ErrConversation, i, turn.Role, want)
		}
	}
	if c.Turns[len(c.Turns)-1].Role != User {
		return fmt.Errorf("%w: the last turn must be the user's", ErrConversation)
	}
	return nil
}

// segment is a piece of a rendered prompt: text, or one token.
type segment struct {
	kind segKind
	text string // text, or the special token's vocabulary text
}

type segKind int

const (
	segText        segKind = iota
	segSpecial             // the control token whose text is text
	segBOS                 // the vocabulary's BOS token
	segBOSIfWanted         // BOS, when the vocabulary asks for one
	segEOS                 // the vocabulary's EOS token
)

func text(s string) segment    { return segment{kind: segText, text: s} }
func special(s string) segment { return segment{kind: segSpecial, text: s} }

// token returns the id of a token segment.
func (s segment) token(tok *tokenizer.Tokenizer) (int32, error) {
	switch s.kind {
	case segBOS, segBOSIfWanted:
		if tok.BOS() == tokenizer.NoToken {
			return 0, fmt.Errorf("%w: BOS", ErrMissingToken)
		}
		return tok.BOS(), nil
	case segEOS:
		if tok.EOS() == tokenizer.NoToken {
			return 0, fmt.Errorf("%w: EOS", ErrMissingToken)
		}
		return tok.EOS(), nil
	}
	id, ok := tok.Lookup(s.text)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrMissingToken, s.text)
	}
	return id, nil
}

// mergeText joins neighbouring text segments, so each run of text between
// tokens is encoded at once, as a tokenizer would see the whole prompt.
func mergeText(segs []segment) []segment {
	out := segs[:0:0]
	for _, s := range segs {
		if s.kind == segText {
			if s.text == "" {
				continue
			}
			if n := len(out); n > 0 && out[n-1].kind == segText {
				out[n-1].text += s.text
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// strip removes leading and trailing whitespace as Python's str.strip()
// (Jinja's trim) does: Unicode White_Space plus the separators U+001C-U+001F.
func strip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1C && r <= 0x1F)
	})
}
