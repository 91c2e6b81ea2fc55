package engine

import (
	"errors"
	"fmt"

	"github.com/corral-ai/corral/inference/sample"
)

// Errors returned by the package. Submit returns the first four at once,
// before anything is queued; ErrSuperseded and ErrClosed also arrive as the
// cause (Event.Err) of a FinishCancelled event.
var (
	// ErrInvalidRequest means the request is malformed: no prompt or more
	// than one form of it, a token id outside the vocabulary, a
	// conversation the chat template cannot render, a sampling option out
	// of range.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrPromptTooLong means the prompt alone does not fit the context.
	ErrPromptTooLong = errors.New("prompt too long")
	// ErrOverloaded means the queue is full (by requests or by prompt
	// tokens); retry later.
	ErrOverloaded = errors.New("engine overloaded")
	// ErrClosed means the engine is shutting down or shut down.
	ErrClosed = errors.New("engine closed")
	// ErrSuperseded is the cancellation cause of a request replaced by a
	// newer one with the same ConversationKey.
	ErrSuperseded = errors.New("superseded by a newer request of the same conversation")
	// ErrInvalidOptions means Options or LoadOptions are out of range.
	ErrInvalidOptions = errors.New("invalid engine options")
)

// Role says who wrote a turn of a conversation.
type Role string

// Roles of conversation turns.
const (
	// System is the instructions (a persona's system prompt); at most one
	// system turn, and only first.
	System Role = "system"
	// User is the human.
	User Role = "user"
	// Assistant is the model, in earlier turns.
	Assistant Role = "assistant"
)

// Turn is one message of a conversation.
type Turn struct {
	Role    Role
	Content string
}

// Input is a prompt, in exactly one of three forms.
type Input struct {
	// Chat is a conversation: an optional system turn, then user and
	// assistant turns alternating, starting and ending with the user. It is
	// rendered with the bundle's chat template, ending with the assistant
	// header, and the template's end-of-turn tokens stop the reply.
	Chat []Turn
	// Text is raw prompt text, already formatted for the model. It is
	// tokenized as is, with a BOS token first when the vocabulary asks for
	// one, and no chat template is applied.
	Text string
	// IDs are prompt token ids, used verbatim (no BOS added).
	IDs []int32
	// ParseSpecial, with Text, recognises control tokens such as
	// <|eot_id|> written in the text. Off, they are tokenized as plain
	// characters, so text from users cannot forge them.
	ParseSpecial bool
}

// Priority is a request's scheduling class: higher classes are admitted
// first, and preempted last when the key/value cache runs out.
type Priority int

// Priority classes, highest first. The zero value is PriorityLive.
const (
	// PriorityLive is a user waiting on a messaging platform.
	PriorityLive Priority = iota
	// PriorityPreview is a creator's live preview in the studio.
	PriorityPreview
	// PriorityBatch is background work (evaluations, warm-ups, load tests).
	PriorityBatch
)

func (p Priority) String() string {
	switch p {
	case PriorityLive:
		return "live"
	case PriorityPreview:
		return "preview"
	case PriorityBatch:
		return "batch"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// OutputFilter screens a reply while it is being generated.
type OutputFilter interface {
	// Screen gets the whole reply so far each time it reaches a sentence
	// boundary, and once at the end. blocked stops the generation with
	// the safety finish reason; reason is for logs.
	Screen(reply string) (blocked bool, reason string)
}

// DefaultSafeReply replaces a reply the output filter blocked when neither
// the request nor the engine's options name another.
const DefaultSafeReply = "Sorry, I can't help with that."

// Request is one generation.
type Request struct {
	// ID names the request in logs and traces; optional.
	ID string
	// Input is the prompt.
	Input Input
	// Sampling picks the tokens. Its Seed seeds the draw (see RandomSeed);
	// MaxTokens limits the reply (0: until a stop rule or the context's
	// end); StopStrings end the reply before the first one that appears;
	// StopTokens are added to the prompt's own stop tokens (the
	// vocabulary's end-of-generation tokens and the chat template's).
	Sampling sample.Options
	// RandomSeed ignores Sampling.Seed and draws a fresh seed; the final
	// event reports the seed used either way.
	RandomSeed bool
	// Priority is the scheduling class.
	Priority Priority
	// ConversationKey, when not empty, names the conversation the request
	// answers: a newer request with the same key cancels this one (cause
	// ErrSuperseded), so a user who sends two messages quickly gets one
	// reply to both.
	ConversationKey string
	// Filter, when set, screens the reply sentence by sentence (see the
	// package documentation for what a consumer then sees).
	Filter OutputFilter
	// SafeReply replaces a reply Filter blocked; "" means the engine's
	// default.
	SafeReply string
}

func (r *Request) validate() error {
	if err := r.Sampling.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if r.Priority < PriorityLive || r.Priority > PriorityBatch {
		return fmt.Errorf("%w: priority %d is not a class", ErrInvalidRequest, int(r.Priority))
	}
	return nil
}
