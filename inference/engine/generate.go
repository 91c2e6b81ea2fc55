package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
)

// generate runs one request to its end and returns the final event, its
// delta already pushed. It is the one place that decides why a generation
// finished; the checks after each token run in this order: stop token,
// stop string, output filter, length, context end, cancellation.
func (e *Engine) generate(q *sequence) Event {
	admitted := time.Now()
	q.queueSpan.End()
	if e.life.Err() != nil {
		// Close gave up; the callback that cancels q may not have run yet.
		q.cancel(ErrClosed)
	}
	ev := Event{Usage: Usage{PromptTokens: len(q.prompt.IDs)}}
	ev.Timings.Queue = admitted.Sub(q.arrival)
	if q.ctx.Err() != nil {
		return e.failed(q, ev, q.ctx.Err())
	}
	need := e.ctxLen
	if q.maxTokens > 0 {
		need = min(need, len(q.prompt.IDs)+q.maxTokens)
	}
	kv, err := e.cache(need)
	if err != nil {
		return e.failed(q, ev, err)
	}

	ctx, span := tracer.Start(q.ctx, "engine.prefill")
	start := time.Now()
	logits, done, err := e.prefill(ctx, q, kv)
	ev.Timings.Prefill = time.Since(start)
	if done > 0 {
		ev.Timings.PromptTokensPerSecond = float64(done) / ev.Timings.Prefill.Seconds()
	}
	span.End()
	if err != nil {
		return e.failed(q, ev, err)
	}

	ctx, span = tracer.Start(q.ctx, "engine.decode")
	defer span.End()
	out := newReply(q.stream, e.b.tok, q.sampler, q.filter)
	var first, last time.Time
	u := &ev.Usage
	for pos := len(q.prompt.IDs); ; pos++ {
		id, why := q.sampler.Next(logits)
		if why == sample.StopToken {
			ev.Finish = FinishStop
			break
		}
		last = time.Now()
		if u.CompletionTokens++; u.CompletionTokens == 1 {
			first = last
			ev.Timings.FirstToken = first.Sub(q.arrival)
		}
		if out.add(id) {
			ev.Finish = FinishStopString
			break
		}
		if why == sample.MaxTokens {
			ev.Finish = FinishLength
			break
		}
		if pos >= e.ctxLen {
			// The token just sampled would sit at position ctxLen.
			ev.Finish = FinishContextLength
			break
		}
		if err := ctx.Err(); err != nil {
			return e.failed(q, ev, err)
		}
		if logits, err = e.b.m.Forward(ctx, []model.Entry{{Pos: pos, Token: id, Logits: true}}, kv); err != nil {
			return e.failed(q, ev, err)
		}
	}
	if u.CompletionTokens > 1 {
		ev.Timings.TokensPerSecond = float64(u.CompletionTokens-1) / last.Sub(first).Seconds()
	}
	text, ids, blocked := out.close()
	if blocked {
		ev.Finish, ev.Retract, ev.Text, ev.Blocked = FinishSafety, true, q.safeReply, out.why
		return ev
	}
	ev.Text, ev.Tokens = text, ids
	return ev
}

// prefill runs the prompt through the model in chunks and returns the
// logits after its last token, and how many prompt tokens it computed.
func (e *Engine) prefill(ctx context.Context, q *sequence, kv model.KV) (logits []float32, done int, err error) {
	ids := q.prompt.IDs
	batch := make([]model.Entry, 0, min(len(ids), e.o.PrefillChunk))
	for lo := 0; lo < len(ids); lo += e.o.PrefillChunk {
		if err := ctx.Err(); err != nil {
			return nil, done, err
		}
		hi := min(lo+e.o.PrefillChunk, len(ids))
		batch = batch[:0]
		for i := lo; i < hi; i++ {
			batch = append(batch, model.Entry{Pos: i, Token: ids[i], Logits: i == len(ids)-1})
		}
		if logits, err = e.b.m.Forward(ctx, batch, kv); err != nil {
			return nil, done, err
		}
		done = hi
	}
	return logits, done, nil
}

// failed finishes a request that stopped early: cancelled when its context
// ended (Err is the cause), an error otherwise.
func (e *Engine) failed(q *sequence, ev Event, err error) Event {
	if q.ctx.Err() != nil {
		ev.Finish, ev.Err = FinishCancelled, context.Cause(q.ctx)
		return ev
	}
	ev.Finish, ev.Err = FinishError, fmt.Errorf("generate: %w", err)
	return ev
}

// cache returns a key/value cache for one sequence of at least positions
// tokens, reusing the last one when it is large enough.
func (e *Engine) cache(positions int) (*model.Cache, error) {
	positions = max(positions, 1)
	if e.kv != nil && e.kv.Positions() >= positions {
		return e.kv, nil
	}
	e.kv = nil // let the old one go before allocating the new one
	kv, err := model.NewCache(e.b.m.Config(), 1, positions)
	if err != nil {
		return nil, err
	}
	e.kv = kv
	return kv, nil
}
