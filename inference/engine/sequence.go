package engine

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/inference/sample"
)

// sequence is one request inside the engine.
type sequence struct {
	// ctx is the request's context as the engine sees it: it also ends on
	// Stream.Cancel, on a newer request of the same conversation and when
	// Close gives up. A queued request record is where a context belongs.
	ctx        context.Context
	cancel     context.CancelCauseFunc
	unlinkLife func() bool
	queueSpan  trace.Span

	id        string
	key       string
	prompt    Prompt
	maxTokens int
	sampler   *sample.Sampler
	seed      uint64
	filter    OutputFilter
	safeReply string
	arrival   time.Time
	stream    *Stream
	priority  Priority
	order     uint64   // arrival number: lower is older
	warm      *warming // set for a Warm request, which generates nothing

	// The worker's state of the sequence.

	// tokens are the prompt, then the generated tokens; the keys and
	// values of the first computed are in the KV cache under kvSeq (-1
	// while the sequence holds no cache sequence: queued or preempted).
	tokens   []int32
	computed int
	kvSeq    int
	started  bool // admitted once; a preempted sequence keeps it
	state    state
	// preemptedIn is the step that last preempted the sequence; it is not
	// admitted again in that step.
	preemptedIn uint64
	// plannedIn is the last step that planned tokens of the sequence.
	plannedIn uint64
	out       *reply
	ev        Event // the final event being built: usage and timings
	// prefilled is how many prompt tokens this sequence computed
	// itself, for the prompt rate.
	prefilled              int
	admitted, first, last  time.Time
	prefillCtx, decodeCtx  context.Context
	prefillSpan, decodeSpn trace.Span
}

// state is where a sequence is in the worker.
type state uint8

const (
	statePending state = iota // queued, or preempted: holds no KV
	stateRunning              // in the batch, holds a KV sequence
	stateDone                 // its final event is out
)

// start is the first admission: the queue span ends and the prompt's
// begins.
func (q *sequence) start(now time.Time, cached int) {
	q.started = true
	q.admitted = now
	q.queueSpan.End()
	q.ev.Usage.PromptTokens = len(q.prompt.IDs)
	q.ev.Usage.CachedPromptTokens = min(cached, len(q.prompt.IDs))
	q.ev.Timings.Queue = now.Sub(q.arrival)
	q.prefillCtx, q.prefillSpan = tracer.Start(q.ctx, "engine.prefill", trace.WithTimestamp(now))
}

// endPrefill closes the prompt's span and timing once it is computed, or
// when the sequence ends before (decode false).
func (q *sequence) endPrefill(now time.Time, decode bool) {
	if q.prefillSpan == nil {
		return
	}
	q.ev.Timings.Prefill = now.Sub(q.admitted)
	if q.prefilled > 0 && q.ev.Timings.Prefill > 0 {
		q.ev.Timings.PromptTokensPerSecond = float64(q.prefilled) / q.ev.Timings.Prefill.Seconds()
	}
	q.prefillSpan.End(trace.WithTimestamp(now))
	q.prefillSpan = nil
	if decode {
		q.decodeCtx, q.decodeSpn = tracer.Start(q.ctx, "engine.decode", trace.WithTimestamp(now))
	}
}

// next samples the token after the sequence from logits and decides
// whether the generation is over, in this order: stop token, stop string,
// output filter, length, context end. It returns the final event's
// reason, or 0 to go on with the new token appended to q.tokens.
func (q *sequence) next(logits []float32, ctxLen int, now time.Time) FinishReason {
	id, why := q.sampler.Next(logits)
	if why == sample.StopToken {
		return FinishStop
	}
	q.last = now
	u := &q.ev.Usage
	if u.CompletionTokens++; u.CompletionTokens == 1 {
		q.first = now
		q.ev.Timings.FirstToken = now.Sub(q.arrival)
	}
	pos := len(q.tokens)
	q.tokens = append(q.tokens, id)
	if q.out.add(id) {
		return FinishStopString
	}
	if why == sample.MaxTokens {
		return FinishLength
	}
	if pos >= ctxLen {
		// The token just sampled would sit at position ctxLen.
		return FinishContextLength
	}
	return 0
}

// final builds the final event of a generation that ended for reason
// (not cancelled or failed), its delta already pushed.
func (q *sequence) final(reason FinishReason) Event {
	ev := q.ev
	ev.Finish = reason
	if u := ev.Usage.CompletionTokens; u > 1 {
		ev.Timings.TokensPerSecond = float64(u-1) / q.last.Sub(q.first).Seconds()
	}
	text, ids, blocked := q.out.close()
	if blocked {
		ev.Finish, ev.Retract, ev.Text, ev.Blocked = FinishSafety, true, q.safeReply, q.out.why
		return ev
	}
	ev.Text, ev.Tokens = text, ids
	return ev
}

// failed builds the final event of a sequence that stopped early:
// cancelled when its context ended (Err is the cause), an error otherwise.
func (q *sequence) failed(err error) Event {
	ev := q.ev
	if u := ev.Usage.CompletionTokens; u > 1 {
		ev.Timings.TokensPerSecond = float64(u-1) / q.last.Sub(q.first).Seconds()
	}
	if q.ctx.Err() != nil {
		ev.Finish, ev.Err = FinishCancelled, context.Cause(q.ctx)
		return ev
	}
	ev.Finish, ev.Err = FinishError, fmt.Errorf("generate: %w", err)
	return ev
}
