package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
)

// Defaults of Options.
const (
	DefaultQueueSize    = 64
	DefaultPrefillChunk = 512
)

// Options configures an Engine.
type Options struct {
	// ContextLength is how many tokens one sequence holds, prompt and reply
	// together; 0 means the model's trained context length, and more than
	// that is refused. The key/value cache of a request is sized by its
	// prompt and Sampling.MaxTokens up to this length, so a request
	// without MaxTokens on a long-context model allocates the whole
	// context's cache.
	ContextLength int
	// QueueSize is how many requests may wait; Submit refuses more with
	// ErrOverloaded. 0 means DefaultQueueSize.
	QueueSize int
	// PrefillChunk bounds how many prompt tokens go into one forward
	// pass, which bounds the pass's scratch memory and how long a
	// cancellation waits. 0 means DefaultPrefillChunk.
	PrefillChunk int
	// SafeReply replaces replies an output filter blocked, for requests
	// that name none; "" means DefaultSafeReply.
	SafeReply string
	// Logger receives one debug line per request and warnings; nil
	// discards them.
	Logger *slog.Logger
}

// Engine runs generation requests over one Bundle. This version runs one
// sequence at a time, in arrival order, on a worker goroutine it owns;
// Submit only validates, tokenizes and queues.
type Engine struct {
	b      *Bundle
	o      Options
	ctxLen int
	log    *slog.Logger

	// life ends when Close gives up draining; every sequence's context
	// ends with it. It is the engine's own lifetime, not a request's.
	life context.Context
	stop context.CancelCauseFunc
	done chan struct{} // closed when the worker has returned

	mu      sync.Mutex // guards closing, queue sends and close, convs
	closing bool
	queue   chan *sequence
	convs   map[string]*sequence // the latest request of each conversation key

	running   atomic.Int32
	completed atomic.Uint64

	kv *model.Cache // worker only: reused while large enough
}

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
}

// New starts an engine over b. The engine does not own b: close the
// engine first, then the bundle.
func New(b *Bundle, o Options) (*Engine, error) {
	trained := b.m.Config().ContextLength
	switch {
	case o.ContextLength < 0 || o.ContextLength > trained:
		return nil, fmt.Errorf("%w: context length %d (the model is trained for %d)", ErrInvalidOptions, o.ContextLength, trained)
	case o.QueueSize < 0:
		return nil, fmt.Errorf("%w: queue size %d", ErrInvalidOptions, o.QueueSize)
	case o.PrefillChunk < 0:
		return nil, fmt.Errorf("%w: prefill chunk %d", ErrInvalidOptions, o.PrefillChunk)
	case trained <= 0:
		return nil, fmt.Errorf("%w: the model has no context length", ErrInvalidOptions)
	}
	if o.ContextLength == 0 {
		o.ContextLength = trained
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.PrefillChunk == 0 {
		o.PrefillChunk = DefaultPrefillChunk
	}
	if o.SafeReply == "" {
		o.SafeReply = DefaultSafeReply
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		b: b, o: o, ctxLen: o.ContextLength, log: log,
		done:  make(chan struct{}),
		queue: make(chan *sequence, o.QueueSize),
		convs: map[string]*sequence{},
	}
	e.life, e.stop = context.WithCancelCause(context.Background())
	go pprof.Do(e.life, pprof.Labels("component", "engine"), func(context.Context) { e.work() })
	return e, nil
}

// Bundle returns the bundle the engine serves.
func (e *Engine) Bundle() *Bundle { return e.b }

// ContextLength is how many tokens a sequence holds, prompt and reply.
func (e *Engine) ContextLength() int { return e.ctxLen }

// Submit validates and tokenizes the request in the caller's goroutine and
// queues it. It fails at once with ErrInvalidRequest, ErrPromptTooLong,
// ErrOverloaded, ErrClosed or ctx's error; otherwise the returned stream
// delivers the request's events, ending with exactly one final event.
// Cancelling ctx ends the request (FinishCancelled) within one step.
func (e *Engine) Submit(ctx context.Context, r Request) (*Stream, error) {
	arrival := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := e.prepare(r)
	if err != nil {
		metrics.reject(ctx, rejectReason(err))
		return nil, err
	}
	q.arrival = arrival
	ctx, span := tracer.Start(ctx, "engine.generate", trace.WithTimestamp(arrival), trace.WithAttributes(requestAttrs(r, len(q.prompt.IDs))...))
	q.ctx, q.cancel = context.WithCancelCause(ctx)
	_, q.queueSpan = tracer.Start(q.ctx, "engine.queue", trace.WithTimestamp(arrival))
	q.unlinkLife = context.AfterFunc(e.life, func() { q.cancel(ErrClosed) })
	q.stream = newStream(q.cancel)

	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		q.abandon(span)
		metrics.reject(ctx, "closed")
		return nil, ErrClosed
	}
	select {
	case e.queue <- q:
		metrics.waiting.Add(ctx, 1)
	default:
		e.mu.Unlock()
		q.abandon(span)
		metrics.reject(ctx, "overloaded")
		return nil, fmt.Errorf("%w: %d requests are waiting", ErrOverloaded, cap(e.queue))
	}
	if q.key != "" {
		if old := e.convs[q.key]; old != nil {
			old.cancel(ErrSuperseded)
		}
		e.convs[q.key] = q
	}
	e.mu.Unlock()
	return q.stream, nil
}

// abandon undoes Submit's setup for a request that was not queued.
func (q *sequence) abandon(span trace.Span) {
	q.unlinkLife()
	q.cancel(nil)
	q.queueSpan.End()
	span.End()
}

// prepare checks the request and builds its sequence, without contexts.
func (e *Engine) prepare(r Request) (*sequence, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	p, err := e.b.Prompt(r.Input)
	if err != nil {
		return nil, err
	}
	if len(p.IDs) > e.ctxLen {
		return nil, fmt.Errorf("%w: the prompt has %d tokens; the context holds %d", ErrPromptTooLong, len(p.IDs), e.ctxLen)
	}
	o := r.Sampling
	o.StopTokens = append(slices.Clone(p.StopTokens), r.Sampling.StopTokens...)
	if r.RandomSeed {
		o.Seed = rand.Uint64()
	}
	s, err := sample.New(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	safe := r.SafeReply
	if safe == "" {
		safe = e.o.SafeReply
	}
	return &sequence{
		id: r.ID, key: r.ConversationKey, prompt: p, maxTokens: o.MaxTokens,
		sampler: s, seed: o.Seed, filter: r.Filter, safeReply: safe,
	}, nil
}

// Close stops taking requests and lets the queued and running ones finish.
// If ctx ends first, it cancels them (their final events say
// FinishCancelled with cause ErrClosed), waits for the worker and returns
// ctx's error. Close may be called more than once; every call waits.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closing {
		e.closing = true
		close(e.queue)
	}
	e.mu.Unlock()
	select {
	case <-e.done:
		e.stop(ErrClosed)
		return nil
	case <-ctx.Done():
		e.stop(ErrClosed)
		<-e.done
		return fmt.Errorf("close engine: requests cancelled: %w", context.Cause(ctx))
	}
}

// Stats is a snapshot of the engine's load.
type Stats struct {
	// Running is how many sequences are being generated.
	Running int
	// Waiting is how many requests are queued.
	Waiting int
	// Completed counts the requests finished since the engine started.
	Completed uint64
}

// Stats returns the engine's current load.
func (e *Engine) Stats() Stats {
	return Stats{Running: int(e.running.Load()), Waiting: len(e.queue), Completed: e.completed.Load()}
}

// work is the worker: it runs the queued requests one at a time until
// Close closes the queue.
func (e *Engine) work() {
	defer close(e.done)
	for q := range e.queue {
		metrics.waiting.Add(q.ctx, -1)
		e.running.Add(1)
		ev := e.generate(q)
		e.running.Add(-1)
		e.completed.Add(1)
		e.finish(q, ev)
	}
}

// finish sends the final event and releases the request.
func (e *Engine) finish(q *sequence, ev Event) {
	ev.Seed = q.seed
	ev.Timings.Total = time.Since(q.arrival)
	q.stream.end(ev)

	e.mu.Lock()
	if e.convs[q.key] == q {
		delete(e.convs, q.key)
	}
	e.mu.Unlock()
	q.unlinkLife()
	e.record(q, ev)
	q.cancel(nil) // releases the request's context; the event is out
}

// record logs, counts and traces a finished request.
func (e *Engine) record(q *sequence, ev Event) {
	span := trace.SpanFromContext(q.ctx)
	span.SetAttributes(finishAttrs(ev)...)
	if ev.Finish == FinishError {
		span.RecordError(ev.Err)
		e.log.Error("generation failed", "request", q.id, "err", ev.Err)
	}
	if ev.Finish == FinishSafety {
		e.log.Info("reply blocked by the output filter", "request", q.id, "reason", ev.Blocked)
	}
	e.log.Debug("request finished", "request", q.id, "finish", ev.Finish.String(),
		"prompt_tokens", ev.Usage.PromptTokens, "completion_tokens", ev.Usage.CompletionTokens,
		"queue", ev.Timings.Queue, "first_token", ev.Timings.FirstToken, "total", ev.Timings.Total)
	metrics.finished(q.ctx, ev)
	span.End()
}
