package engine

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"
)

// FinishReason says why a generation ended. The zero value means it has
// not: every event but the last carries it.
type FinishReason int

// Finish reasons, as proto corral.v1.FinishReason has them.
const (
	// FinishStop: the model produced an end-of-generation token (or a
	// stop token of the request or chat template).
	FinishStop FinishReason = iota + 1
	// FinishStopString: one of the request's stop strings appeared; the
	// text ends before it.
	FinishStopString
	// FinishLength: Sampling.MaxTokens tokens were generated.
	FinishLength
	// FinishContextLength: the sequence filled the context.
	FinishContextLength
	// FinishSafety: the output filter blocked the reply; the final event
	// retracts it.
	FinishSafety
	// FinishCancelled: the request's context ended, the consumer stopped
	// reading through Events or called Cancel, a newer request of the same
	// conversation replaced it, or the engine shut down. Event.Err holds
	// the cause.
	FinishCancelled
	// FinishError: the generation failed; Event.Err says why.
	FinishError
)

func (r FinishReason) String() string {
	switch r {
	case 0:
		return "none"
	case FinishStop:
		return "stop"
	case FinishStopString:
		return "stop_string"
	case FinishLength:
		return "length"
	case FinishContextLength:
		return "context_length"
	case FinishSafety:
		return "safety"
	case FinishCancelled:
		return "cancelled"
	case FinishError:
		return "error"
	}
	return fmt.Sprintf("FinishReason(%d)", int(r))
}

// Describe says the reason in words for people (a command's status line).
func (r FinishReason) Describe() string {
	switch r {
	case FinishStop:
		return "end of sequence"
	case FinishStopString:
		return "stop string"
	case FinishLength:
		return "length limit"
	case FinishContextLength:
		return "context full"
	case FinishSafety:
		return "blocked by the output filter"
	case FinishCancelled:
		return "cancelled"
	case FinishError:
		return "error"
	}
	return r.String()
}

// Usage counts a request's tokens.
type Usage struct {
	// PromptTokens is the prompt's length.
	PromptTokens int
	// CompletionTokens is how many tokens were generated, without the stop
	// token that ended the reply.
	CompletionTokens int
	// CachedPromptTokens is how many prompt tokens were served from a
	// prefix cache instead of computed (always 0 until the engine has one).
	CachedPromptTokens int
}

// Timings measure a request inside the engine; all durations count from
// the moment Submit was called.
type Timings struct {
	// Queue is the wait until the engine started the request.
	Queue time.Duration
	// Prefill is the time spent computing the prompt.
	Prefill time.Duration
	// FirstToken is the time to the first generated token (0 if none).
	FirstToken time.Duration
	// Total is the time to the final event.
	Total time.Duration
	// TokensPerSecond is the decode speed: tokens after the first per
	// second from the first token to the last (0 with fewer than 2).
	TokensPerSecond float64
	// PromptTokensPerSecond is the prompt tokens computed per second of
	// Prefill (of those computed before a cancellation, if any).
	PromptTokensPerSecond float64
}

// Event is one piece of a generation's stream. Every event but the last
// carries new text, new token ids or both; the last carries Finish, Usage,
// Timings and Seed, and may carry a final delta.
type Event struct {
	// Text is new reply text since the previous event: always whole UTF-8
	// characters (bytes a tokenizer splits across tokens are held back
	// until the character is complete; bytes that can never form one
	// become U+FFFD). With Retract set it is instead the whole reply.
	Text string
	// Tokens are the ids of tokens generated since the previous event. A
	// stop token is not among them; the tokens of text cut by a stop
	// string are.
	Tokens []int32

	// Finish is set on the last event only.
	Finish FinishReason
	// Retract, on a FinishSafety event, says every Text and Tokens sent
	// before must be discarded: this event's Text is the reply to show
	// instead (the request's SafeReply or the engine's default).
	Retract bool
	// Blocked is the output filter's reason on FinishSafety, for logs; it
	// is not for end users.
	Blocked string
	// Err is why on FinishError, and the cause on FinishCancelled (the
	// context's cause, ErrSuperseded or ErrClosed).
	Err error
	// Usage counts the request's tokens.
	Usage Usage
	// Timings measure the request.
	Timings Timings
	// Seed is the seed the sampler used.
	Seed uint64
}

// Final reports whether e is a stream's last event.
func (e Event) Final() bool { return e.Finish != 0 }

// Stream delivers one request's events in order, to one reader. The engine
// never waits for the reader: while the reader is away, new text and ids
// are merged into the next event, so a slow reader gets fewer, larger
// events and a reader that never comes back costs memory only up to the
// length of the reply. Every stream ends with exactly one final event.
type Stream struct {
	cancel context.CancelCauseFunc
	notify chan struct{} // 1 slot: something new since the reader last looked

	mu        sync.Mutex
	text      strings.Builder
	tokens    []int32
	final     *Event
	delivered bool // the final event was returned
}

func newStream(cancel context.CancelCauseFunc) *Stream {
	return &Stream{cancel: cancel, notify: make(chan struct{}, 1)}
}

func (s *Stream) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// push adds a delta; the engine calls it and never blocks.
func (s *Stream) push(text string, ids []int32) {
	if text == "" && len(ids) == 0 {
		return
	}
	s.mu.Lock()
	s.text.WriteString(text)
	s.tokens = append(s.tokens, ids...)
	s.mu.Unlock()
	s.wake()
}

// end queues the final event. A retracting event replaces what is
// pending; any other gets the pending delta in front of its own.
func (s *Stream) end(ev Event) {
	s.mu.Lock()
	if ev.Retract {
		s.text.Reset()
		s.tokens = nil
	}
	s.final = &ev
	s.mu.Unlock()
	s.wake()
}

// Next waits for the next event and returns it, or false once the final
// event has been returned. After the request's context ends (or Cancel),
// the final event follows within one engine step.
func (s *Stream) Next() (Event, bool) {
	for {
		s.mu.Lock()
		if s.delivered {
			s.mu.Unlock()
			return Event{}, false
		}
		if s.final != nil {
			ev := *s.final
			if s.text.Len() > 0 {
				ev.Text = s.text.String() + ev.Text
			}
			if len(s.tokens) > 0 {
				ev.Tokens = append(s.tokens, ev.Tokens...)
			}
			s.text.Reset()
			s.tokens = nil
			s.final, s.delivered = nil, true
			s.mu.Unlock()
			return ev, true
		}
		if s.text.Len() > 0 || len(s.tokens) > 0 {
			ev := Event{Text: s.text.String(), Tokens: s.tokens}
			s.text.Reset()
			s.tokens = nil
			s.mu.Unlock()
			return ev, true
		}
		s.mu.Unlock()
		<-s.notify
	}
}

// Events returns the events as a sequence for range. Leaving the loop
// before the final event cancels the request.
func (s *Stream) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			ev, ok := s.Next()
			if !ok {
				return
			}
			if !yield(ev) {
				s.Cancel()
				return
			}
		}
	}
}

// Cancel ends the request: its final event says FinishCancelled unless it
// finished already. Cancel may be called from any goroutine, any number of
// times.
func (s *Stream) Cancel() { s.cancel(context.Canceled) }

// Result is a whole generation, as Collect gathers it.
type Result struct {
	// Text is the reply: every delta joined, or the replacement when the
	// final event retracted the reply.
	Text string
	// Tokens are the generated token ids (none when retracted).
	Tokens []int32
	// Final is the last event, its own delta moved into Text and Tokens.
	Final Event
}

// Collect reads the stream to its end.
func (s *Stream) Collect() Result {
	var r Result
	var text strings.Builder
	for ev := range s.Events() {
		if ev.Retract {
			text.Reset()
			r.Tokens = nil
		}
		text.WriteString(ev.Text)
		r.Tokens = append(r.Tokens, ev.Tokens...)
		if ev.Final() {
			ev.Text, ev.Tokens = "", nil
			r.Final = ev
		}
	}
	r.Text = text.String()
	return r
}
