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

	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/inference/sample"
)

// Defaults of Options.
const (
	DefaultQueueSize    = 64
	DefaultQueueTokens  = 1 << 16
	DefaultPrefillChunk = 512
	DefaultMaxRunning   = 64
	// defaultContexts is how many whole contexts the KV cache holds when
	// Options.KVMemory is 0, if the memory available allows.
	defaultContexts = 8
)

// Options configures an Engine.
type Options struct {
	// ContextLength is how many tokens one sequence holds, prompt and reply
	// together; 0 means the model's trained context length, and more than
	// that is refused.
	ContextLength int
	// QueueSize is how many requests may wait for admission; Submit
	// refuses more with ErrOverloaded. 0 means DefaultQueueSize.
	QueueSize int
	// QueueTokens is how many prompt tokens the waiting requests may hold
	// together; Submit refuses more with ErrOverloaded (a request alone in
	// the queue is always taken). 0 means DefaultQueueTokens.
	QueueTokens int
	// PrefillChunk is the token budget of one step: the decode tokens of
	// the running sequences plus chunks of prompts up to this many tokens
	// go into one forward pass, which bounds the pass's scratch memory,
	// how long decoding sequences wait for a long prompt, and how long a
	// cancellation waits. 0 means DefaultPrefillChunk.
	PrefillChunk int
	// MaxRunning is how many sequences may run in one batch. 0 means
	// DefaultMaxRunning.
	MaxRunning int
	// KVMemory is the byte budget of the paged key/value cache
	// (CORRAL_KV_MEMORY); 0 means the smaller of kvcache.DefaultBudget and
	// what a few whole contexts need.
	KVMemory int64
	// KVType is the key/value element type: F16 (the zero value) halves
	// the memory, F32 reproduces the reference outputs bit for bit.
	KVType kvcache.Type
	// SafeReply replaces replies an output filter blocked, for requests
	// that name none; "" means DefaultSafeReply.
	SafeReply string
	// Logger receives one debug line per request and warnings; nil
	// discards them.
	Logger *slog.Logger
}

// Engine runs generation requests over one Bundle: a worker goroutine it
// owns schedules every running sequence into one forward pass per step,
// over a paged key/value cache with a prefix cache. Submit only
// validates, tokenizes and queues.
type Engine struct {
	b      *Bundle
	o      Options
	ctxLen int
	log    *slog.Logger
	kv     *kvcache.Cache

	// life ends when Close gives up draining; every sequence's context
	// ends with it. It is the engine's own lifetime, not a request's.
	life context.Context
	stop context.CancelCauseFunc
	done chan struct{} // closed when the worker has returned
	wake chan struct{} // 1 slot: the inbox has something or Close was called

	mu           sync.Mutex // guards the fields below
	closing      bool
	inbox        []*sequence          // submitted, not yet seen by the worker
	queued       int                  // requests waiting for admission
	queuedTokens int                  // their prompt tokens
	convs        map[string]*sequence // the latest request of each conversation key
	order        uint64               // arrival counter

	running     atomic.Int32
	waiting     atomic.Int32 // queued plus preempted
	completed   atomic.Uint64
	preemptions atomic.Uint64

	w worker // the worker goroutine's own state
}

// New starts an engine over b. The engine does not own b: close the
// engine first, then the bundle.
func New(b *Bundle, o Options) (*Engine, error) {
	cfg := b.m.Config()
	trained := cfg.ContextLength
	switch {
	case o.ContextLength < 0 || o.ContextLength > trained:
		return nil, fmt.Errorf("%w: context length %d (the model is trained for %d)", ErrInvalidOptions, o.ContextLength, trained)
	case o.QueueSize < 0:
		return nil, fmt.Errorf("%w: queue size %d", ErrInvalidOptions, o.QueueSize)
	case o.QueueTokens < 0:
		return nil, fmt.Errorf("%w: queue tokens %d", ErrInvalidOptions, o.QueueTokens)
	case o.PrefillChunk < 0:
		return nil, fmt.Errorf("%w: prefill chunk %d", ErrInvalidOptions, o.PrefillChunk)
	case o.MaxRunning < 0:
		return nil, fmt.Errorf("%w: max running %d", ErrInvalidOptions, o.MaxRunning)
	case o.KVMemory < 0:
		return nil, fmt.Errorf("%w: KV memory %d", ErrInvalidOptions, o.KVMemory)
	case trained <= 0:
		return nil, fmt.Errorf("%w: the model has no context length", ErrInvalidOptions)
	}
	if o.ContextLength == 0 {
		o.ContextLength = trained
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueueTokens == 0 {
		o.QueueTokens = DefaultQueueTokens
	}
	if o.PrefillChunk == 0 {
		o.PrefillChunk = DefaultPrefillChunk
	}
	if o.MaxRunning == 0 {
		o.MaxRunning = DefaultMaxRunning
	}
	if o.SafeReply == "" {
		o.SafeReply = DefaultSafeReply
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kc := kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Type: o.KVType, Budget: o.KVMemory}
	if kc.Budget == 0 {
		kc.Budget = DefaultKVMemory(b, o.KVType, o.ContextLength)
	}
	kv, err := kvcache.New(kc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	e := &Engine{
		b: b, o: o, ctxLen: o.ContextLength, log: log, kv: kv,
		done:  make(chan struct{}),
		wake:  make(chan struct{}, 1),
		convs: map[string]*sequence{},
	}
	e.w.pins = map[string]*kvcache.Pin{}
	e.life, e.stop = context.WithCancelCause(context.Background())
	go pprof.Do(e.life, pprof.Labels("component", "engine"), func(context.Context) { e.work() })
	return e, nil
}

// DefaultKVMemory is the KV budget New takes when Options.KVMemory is 0:
// what a few whole contexts of length ctxLen need, but no more than
// kvcache.DefaultBudget leaves beside the model's weights.
func DefaultKVMemory(b *Bundle, t kvcache.Type, ctxLen int) int64 {
	cfg := b.m.Config()
	var fileBytes int64
	if f := b.m.File(); f != nil {
		fileBytes = f.Size()
	}
	perToken := 2 * int64(cfg.Layers) * int64(cfg.KVHeads) * int64(cfg.HeadDim) * int64(t.Size())
	want := perToken * int64(ctxLen) * defaultContexts * 102 / 100 // and the blocks' bookkeeping
	return max(min(want, kvcache.DefaultBudget(fileBytes)), 1<<20)
}

// Bundle returns the bundle the engine serves.
func (e *Engine) Bundle() *Bundle { return e.b }

// ContextLength is how many tokens a sequence holds, prompt and reply.
func (e *Engine) ContextLength() int { return e.ctxLen }

// KV describes the engine's key/value cache.
type KV struct {
	// Type is the element type.
	Type kvcache.Type
	// Bytes is the memory the cache took, blocks and bookkeeping.
	Bytes int64
	// Blocks is the pool's size, of BlockTokens tokens each.
	Blocks, BlockTokens int
	// BytesPerToken is Bytes over the tokens the pool holds.
	BytesPerToken float64
}

// KV describes the key/value cache (for logs at start).
func (e *Engine) KV() KV {
	return KV{Type: e.kv.Type(), Bytes: e.kv.MemoryBytes(), Blocks: e.kv.Blocks(), BlockTokens: e.kv.BlockTokens(), BytesPerToken: e.kv.BytesPerToken()}
}

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
	q.priority = r.Priority
	ctx, span := tracer.Start(ctx, "engine.generate", trace.WithTimestamp(arrival), trace.WithAttributes(requestAttrs(r, len(q.prompt.IDs))...))
	if err := e.enqueue(ctx, q); err != nil {
		span.End()
		return nil, err
	}
	return q.stream, nil
}

// enqueue gives q its contexts and stream and puts it in the inbox, or
// refuses it (ErrClosed, ErrOverloaded) and undoes that.
func (e *Engine) enqueue(ctx context.Context, q *sequence) error {
	q.ctx, q.cancel = context.WithCancelCause(ctx)
	_, q.queueSpan = tracer.Start(q.ctx, "engine.queue", trace.WithTimestamp(q.arrival))
	q.unlinkLife = context.AfterFunc(e.life, func() { q.cancel(ErrClosed) })
	q.stream = newStream(q.cancel)
	q.tokens = q.prompt.IDs
	q.kvSeq = -1

	e.mu.Lock()
	var err error
	switch {
	case e.closing:
		err = ErrClosed
	case e.queued >= e.o.QueueSize:
		err = fmt.Errorf("%w: %d requests are waiting", ErrOverloaded, e.queued)
	case e.queued > 0 && e.queuedTokens+len(q.tokens) > e.o.QueueTokens:
		err = fmt.Errorf("%w: %d prompt tokens are waiting", ErrOverloaded, e.queuedTokens)
	}
	if err != nil {
		e.mu.Unlock()
		q.unlinkLife()
		q.cancel(nil)
		q.queueSpan.End()
		reason := "overloaded"
		if err == ErrClosed {
			reason = "closed"
		}
		metrics.reject(ctx, reason)
		return err
	}
	e.order++
	q.order = e.order
	e.queued++
	e.queuedTokens += len(q.tokens)
	e.waiting.Add(1)
	e.inbox = append(e.inbox, q)
	if q.key != "" {
		if old := e.convs[q.key]; old != nil {
			old.cancel(ErrSuperseded)
		}
		e.convs[q.key] = q
	}
	e.mu.Unlock()
	metrics.waiting.Add(ctx, 1)
	e.signal()
	return nil
}

// signal wakes the worker if it waits for work.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
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
	e.closing = true
	e.mu.Unlock()
	e.signal()
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
	// Waiting is how many requests wait for admission, preempted ones
	// included.
	Waiting int
	// Completed counts the requests finished since the engine started.
	Completed uint64
	// Preemptions counts sequences paused for lack of KV blocks (and
	// recomputed later) since the engine started.
	Preemptions uint64
	// KV is the key/value cache's figures: blocks used, cached, free, and
	// the prefix cache's lookups and hits.
	KV kvcache.Stats
}

// PrefixHitRatio is the share of looked-up prompt tokens the prefix cache
// served, in [0, 1]; 0 before any lookup.
func (s Stats) PrefixHitRatio() float64 {
	if s.KV.LookupTokens == 0 {
		return 0
	}
	return float64(s.KV.HitTokens) / float64(s.KV.LookupTokens)
}

// Stats returns the engine's current load.
func (e *Engine) Stats() Stats {
	return Stats{
		Running: int(e.running.Load()), Waiting: int(e.waiting.Load()), Completed: e.completed.Load(),
		Preemptions: e.preemptions.Load(), KV: e.kv.Stats(),
	}
}
