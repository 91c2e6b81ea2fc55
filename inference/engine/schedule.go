package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/inference/model"
)

// worker is the state the worker goroutine owns.
type worker struct {
	running []*sequence    // admitted, in (priority, arrival) order after sorting
	pending [3][]*sequence // per class, by arrival: queued and preempted
	plan    []planned
	batch   []model.Entry
	steps   uint64
	// pins hold warmed prefixes, by their tokens; pinOrder is oldest first.
	pins     map[string]*kvcache.Pin
	pinOrder []string
}

// planned is one sequence's part of a step: positions [lo, hi) of its
// tokens, and whether the step wants the logits after hi-1.
type planned struct {
	q      *sequence
	lo, hi int
	logits bool
}

func (w *worker) pendingLen() int { return len(w.pending[0]) + len(w.pending[1]) + len(w.pending[2]) }

// work is the worker: it collects submitted requests and runs steps until
// Close was called and nothing is left.
func (e *Engine) work() {
	defer close(e.done)
	w := &e.w
	for {
		closing := e.collect()
		e.reap()
		if len(w.running) == 0 && w.pendingLen() == 0 {
			if closing {
				return
			}
			<-e.wake
			continue
		}
		e.step()
	}
}

// collect moves the inbox into the pending lists and reports whether
// Close was called (after which the inbox stays empty).
func (e *Engine) collect() bool {
	e.mu.Lock()
	in := e.inbox
	e.inbox = nil
	closing := e.closing
	e.mu.Unlock()
	for _, q := range in {
		e.w.pending[q.priority] = append(e.w.pending[q.priority], q)
	}
	return closing
}

// cancelled reports whether q's context ended, making sure a Close that
// gave up counts even before its callback cancelled q.
func (e *Engine) cancelled(q *sequence) bool {
	if e.life.Err() != nil {
		q.cancel(ErrClosed)
	}
	return q.ctx.Err() != nil
}

// reap finishes the sequences whose context ended, freeing their blocks.
func (e *Engine) reap() {
	w := &e.w
	for _, q := range w.running {
		if e.cancelled(q) {
			e.finish(q, q.failed(nil))
		}
	}
	for c := range w.pending {
		for _, q := range w.pending[c] {
			if e.cancelled(q) {
				e.finish(q, q.failed(nil))
			}
		}
		w.pending[c] = slices.DeleteFunc(w.pending[c], func(q *sequence) bool { return q.state == stateDone })
	}
	w.running = slices.DeleteFunc(w.running, func(q *sequence) bool { return q.state == stateDone })
	e.running.Store(int32(len(w.running)))
}

// step plans one batch, runs it through the model and takes each
// sequence's next token.
func (e *Engine) step() {
	w := &e.w
	w.steps++
	slices.SortFunc(w.running, func(a, b *sequence) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.order, b.order))
	})
	w.plan = w.plan[:0]
	// Every running sequence that waits for its next token gets it.
	decodes := 0
	for _, q := range w.running {
		if q.state == stateRunning && len(q.tokens)-q.computed == 1 {
			if e.reserve(q, 1) {
				e.planChunk(q, 1)
				decodes++
			}
		}
	}
	budget := max(e.o.PrefillChunk-decodes, 1)
	// Then prompt chunks of admitted sequences, then new admissions.
	for _, q := range w.running {
		if budget == 0 {
			break
		}
		if q.state != stateRunning || q.plannedIn == w.steps || len(q.tokens) == q.computed {
			continue
		}
		n := min(len(q.tokens)-q.computed, budget)
		if n > 0 && e.reserve(q, n) {
			e.planChunk(q, n)
			budget -= n
		}
	}
	e.admit(budget)
	w.running = slices.DeleteFunc(w.running, func(q *sequence) bool { return q.state != stateRunning })
	e.running.Store(int32(len(w.running)))

	w.batch = w.batch[:0]
	var live []*planned
	for i := range w.plan {
		p := &w.plan[i]
		if p.q.state != stateRunning {
			continue // preempted after it was planned
		}
		for pos := p.lo; pos < p.hi; pos++ {
			w.batch = append(w.batch, model.Entry{Seq: p.q.kvSeq, Pos: pos, Token: p.q.tokens[pos], Logits: p.logits && pos == p.hi-1})
		}
		live = append(live, p)
	}
	if len(w.batch) == 0 {
		return
	}
	metrics.batch(e.life, len(w.batch), len(live))
	ctx, release := e.stepContext(live)
	logits, err := e.b.m.Forward(ctx, w.batch, e.kv)
	release()
	now := time.Now()
	if err != nil {
		for _, p := range live {
			q := p.q
			_ = e.kv.Truncate(q.kvSeq, q.computed)
			e.cancelled(q)
			q.endPrefill(now, false)
			e.finish(q, q.failed(err))
		}
		w.running = slices.DeleteFunc(w.running, func(q *sequence) bool { return q.state == stateDone })
		return
	}
	vocab := e.b.m.Config().Vocab
	row := 0
	for _, p := range live {
		q := p.q
		if err := e.kv.Commit(q.kvSeq, p.hi); err != nil {
			e.finish(q, q.failed(err))
			continue
		}
		q.computed = p.hi
		if q.prefillSpan != nil {
			q.prefilled += p.hi - p.lo
		}
		if !p.logits {
			if q.warm != nil && q.computed == len(q.tokens) {
				e.warmed(q, now)
			}
			continue
		}
		r := logits[row*vocab : (row+1)*vocab]
		row++
		if e.cancelled(q) {
			q.endPrefill(now, false)
			e.finish(q, q.failed(nil))
			continue
		}
		q.endPrefill(now, true)
		if why := q.next(r, e.ctxLen, now); why != 0 {
			e.finish(q, q.final(why))
		}
	}
	w.running = slices.DeleteFunc(w.running, func(q *sequence) bool { return q.state == stateDone })
	e.running.Store(int32(len(w.running)))
}

// planChunk plans the next n tokens of q, reserved already.
func (e *Engine) planChunk(q *sequence, n int) {
	hi := q.computed + n
	q.plannedIn = e.w.steps
	e.w.plan = append(e.w.plan, planned{q: q, lo: q.computed, hi: hi, logits: q.warm == nil && hi == len(q.tokens)})
}

// stepContext is the context of a forward pass: it ends when every
// sequence in the pass has been cancelled, so that a pass nobody waits
// for stops between layers. release frees its resources.
func (e *Engine) stepContext(live []*planned) (context.Context, func()) {
	if len(live) == 1 {
		return live[0].q.ctx, func() {}
	}
	ctx, cancel := context.WithCancel(e.life)
	left := atomic.Int32{}
	left.Store(int32(len(live)))
	stops := make([]func() bool, len(live))
	for i, p := range live {
		stops[i] = context.AfterFunc(p.q.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// reserve appends the next n tokens of the running q to its KV sequence.
// When blocks run out it preempts the lowest-priority newest running
// sequence, which may be q itself, and tries again. It reports whether q
// has its positions; if not, q has been preempted or failed.
func (e *Engine) reserve(q *sequence, n int) bool {
	for {
		err := e.kv.Append(q.kvSeq, q.tokens[q.computed:q.computed+n]...)
		if err == nil {
			return true
		}
		if !errors.Is(err, kvcache.ErrOutOfBlocks) {
			e.finish(q, q.failed(err))
			return false
		}
		v := e.victim(nil)
		if v == nil || v == q && e.alone(q) {
			e.finish(q, q.failed(fmt.Errorf("the KV cache of %d blocks cannot hold this sequence alone: %w", e.kv.Blocks(), err)))
			return false
		}
		e.preempt(v)
		if v == q {
			return false
		}
	}
}

// runningCount is how many sequences run, not counting those preempted
// or finished during this step.
func (e *Engine) runningCount() int {
	n := 0
	for _, q := range e.w.running {
		if q.state == stateRunning {
			n++
		}
	}
	return n
}

// alone reports whether q is the only running sequence.
func (e *Engine) alone(q *sequence) bool {
	for _, r := range e.w.running {
		if r != q && r.state == stateRunning {
			return false
		}
	}
	return true
}

// victim is the running sequence to preempt: the newest of the lowest
// class. With above set, only a sequence of a lower class than above's
// qualifies. nil when there is none.
func (e *Engine) victim(above *sequence) *sequence {
	var v *sequence
	for _, r := range e.w.running {
		if r.state != stateRunning || above != nil && r.priority <= above.priority {
			continue
		}
		if v == nil || r.priority > v.priority || r.priority == v.priority && r.order > v.order {
			v = r
		}
	}
	return v
}

// preempt pauses the running q: its blocks go back to the pool (the
// published ones stay in the prefix cache, so resuming often reuses
// them) and it waits for admission again, ahead of later arrivals of its
// class, to recompute its prompt and reply so far and go on. The sampler
// keeps its state, so the tokens are the ones it would have produced.
func (e *Engine) preempt(q *sequence) {
	_ = e.kv.Free(q.kvSeq)
	q.kvSeq, q.computed = -1, 0
	q.state = statePending
	q.preemptedIn = e.w.steps
	l := e.w.pending[q.priority]
	i, _ := slices.BinarySearchFunc(l, q.order, func(a *sequence, o uint64) int { return cmp.Compare(a.order, o) })
	e.w.pending[q.priority] = slices.Insert(l, i, q)
	e.waiting.Add(1)
	e.preemptions.Add(1)
	metrics.waiting.Add(q.ctx, 1)
	metrics.preempted(q.ctx, q.priority)
	trace.SpanFromContext(q.ctx).AddEvent("preempted", trace.WithAttributes(attribute.Int("corral.tokens", len(q.tokens))))
	e.log.Debug("sequence preempted", "request", q.id, "priority", q.priority.String(), "tokens", len(q.tokens))
}

// admit starts pending sequences, higher classes first and in arrival
// order inside a class, while the batch has room and the step has budget.
// A sequence is admitted only when the cache can hold its whole prompt,
// after preempting sequences of lower classes if need be; otherwise
// admission waits (later arrivals do not pass it).
func (e *Engine) admit(budget int) {
	w := &e.w
	for budget > 0 && e.runningCount() < e.o.MaxRunning {
		c := 0
		for c < len(w.pending) && len(w.pending[c]) == 0 {
			c++
		}
		if c == len(w.pending) {
			break
		}
		q := w.pending[c][0]
		if q.preemptedIn == w.steps {
			break
		}
		lookup := q.tokens
		if q.warm == nil {
			lookup = q.tokens[:len(q.tokens)-1] // the last token's logits are needed
		}
		bt := e.kv.BlockTokens()
		cached := e.kv.Cached(lookup)
		need := (len(q.tokens)-cached+bt-1)/bt + 1
		for e.kv.Available() < need {
			v := e.victim(q)
			if v == nil {
				break
			}
			e.preempt(v)
		}
		if e.kv.Available() < need && e.runningCount() > 0 {
			break // wait for room
		}
		w.pending[c] = w.pending[c][1:]
		e.waiting.Add(-1)
		metrics.waiting.Add(q.ctx, -1)
		q.kvSeq = e.kv.NewSeq()
		hit, err := e.kv.Prefix(q.kvSeq, lookup)
		if err != nil {
			e.finish(q, q.failed(err))
			continue
		}
		q.computed = hit
		now := time.Now()
		if !q.started {
			e.mu.Lock()
			e.queued--
			e.queuedTokens -= len(q.prompt.IDs)
			e.mu.Unlock()
			q.start(now, hit)
			if q.warm == nil {
				q.out = newReply(q.stream, e.b.tok, q.sampler, q.filter)
			}
			metrics.prefix(q.ctx, len(lookup), hit)
		}
		q.state = stateRunning
		w.running = append(w.running, q)
		if q.warm != nil && q.computed == len(q.tokens) {
			e.warmed(q, now)
			continue
		}
		n := min(len(q.tokens)-q.computed, budget)
		if !e.reserve(q, n) {
			continue
		}
		e.planChunk(q, n)
		budget -= n
	}
}

// finish sends the final event and releases the request and its blocks.
func (e *Engine) finish(q *sequence, ev Event) {
	if q.state == stateDone {
		return
	}
	if q.kvSeq >= 0 {
		_ = e.kv.Free(q.kvSeq)
		q.kvSeq = -1
	}
	now := time.Now()
	switch {
	case q.state == statePending && !q.started:
		e.mu.Lock()
		e.queued--
		e.queuedTokens -= len(q.prompt.IDs)
		e.mu.Unlock()
		q.queueSpan.End()
		ev.Timings.Queue = now.Sub(q.arrival)
		fallthrough
	case q.state == statePending:
		e.waiting.Add(-1)
		metrics.waiting.Add(q.ctx, -1)
	}
	q.state = stateDone
	q.endPrefill(now, false)
	if q.decodeSpn != nil {
		q.decodeSpn.End(trace.WithTimestamp(now))
	}
	ev.Seed = q.seed
	ev.Timings.Total = now.Sub(q.arrival)
	e.completed.Add(1)
	if q.warm != nil {
		q.warm.end(ev)
	} else {
		q.stream.end(ev)
	}

	e.mu.Lock()
	if q.key != "" && e.convs[q.key] == q {
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
		"prompt_tokens", ev.Usage.PromptTokens, "cached_prompt_tokens", ev.Usage.CachedPromptTokens, "completion_tokens", ev.Usage.CompletionTokens,
		"queue", ev.Timings.Queue, "first_token", ev.Timings.FirstToken, "total", ev.Timings.Total)
	metrics.finished(q.ctx, ev)
	span.End()
}
