package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// WarmResult reports a warmed prefix.
type WarmResult struct {
	// PromptTokens is the prefix's length.
	PromptTokens int
	// CachedTokens is how many of its leading tokens the prefix cache now
	// holds, pinned: whole blocks only, so up to BlockTokens-1 fewer.
	CachedTokens int
	// ComputedTokens is how many tokens this call computed; the rest were
	// cached already.
	ComputedTokens int
	// Took is the time from the call to the result.
	Took time.Duration
}

// warming is the part of a sequence that only a Warm request has.
type warming struct {
	done chan Event // receives the final event
	res  WarmResult
}

func (w *warming) end(ev Event) { w.done <- ev }

// Warm computes the prefix in into the prefix cache and pins it there, so
// that requests starting with it (a persona's system prompt) prefill only
// the rest. Only whole blocks are cached; a prefix shorter than a block
// does nothing. It runs as a preview-class request, queued like the
// others (so it may fail with ErrOverloaded or ErrClosed), and waits for
// its result; cancelling ctx cancels it. Pins last while the engine does;
// when pinned blocks pass half the cache, the oldest warmed prefixes are
// let go first (they stay cached until evicted).
func (e *Engine) Warm(ctx context.Context, in Input) (WarmResult, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return WarmResult{}, err
	}
	p, err := e.b.Prompt(in)
	if err != nil {
		metrics.reject(ctx, rejectReason(err))
		return WarmResult{}, err
	}
	res := WarmResult{PromptTokens: len(p.IDs)}
	if len(p.IDs) > e.ctxLen {
		err := fmt.Errorf("%w: the prefix has %d tokens; the context holds %d", ErrPromptTooLong, len(p.IDs), e.ctxLen)
		metrics.reject(ctx, rejectReason(err))
		return res, err
	}
	full := len(p.IDs) / e.kv.BlockTokens() * e.kv.BlockTokens()
	if full == 0 {
		res.Took = time.Since(start)
		return res, nil
	}
	w := &warming{done: make(chan Event, 1)}
	q := &sequence{id: "warm", prompt: Prompt{IDs: p.IDs[:full]}, priority: PriorityPreview, warm: w, arrival: start}
	ctx, span := tracer.Start(ctx, "engine.warm", trace.WithTimestamp(start))
	defer span.End()
	if err := e.enqueue(ctx, q); err != nil {
		return res, err
	}
	ev := <-w.done
	res.CachedTokens, res.ComputedTokens = w.res.CachedTokens, w.res.ComputedTokens
	res.Took = time.Since(start)
	if ev.Finish != FinishStop {
		if ev.Err == nil {
			ev.Err = fmt.Errorf("warm ended: %s", ev.Finish)
		}
		return res, ev.Err
	}
	return res, nil
}

// warmed pins the computed prefix of the warm request q and finishes it.
func (e *Engine) warmed(q *sequence, now time.Time) {
	w := &e.w
	q.endPrefill(now, false)
	pin := e.kv.Pin(q.tokens)
	key := tokensKey(q.tokens)
	if old := w.pins[key]; old != nil {
		e.kv.Unpin(old)
	} else {
		w.pinOrder = append(w.pinOrder, key)
	}
	w.pins[key] = pin
	// Keep half the cache for sequences: let the oldest pins go.
	for len(w.pinOrder) > 1 && e.kv.Stats().Pinned > e.kv.Blocks()/2 {
		e.kv.Unpin(w.pins[w.pinOrder[0]])
		delete(w.pins, w.pinOrder[0])
		w.pinOrder = w.pinOrder[1:]
	}
	q.warm.res.CachedTokens, q.warm.res.ComputedTokens = pin.Tokens(), q.prefilled
	ev := q.ev
	ev.Finish = FinishStop
	e.finish(q, ev)
}

// tokensKey is a map key for token ids.
func tokensKey(ids []int32) string {
	b := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	return string(b)
}
