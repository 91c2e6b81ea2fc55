package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
)

// countingModel wraps a model and keeps the largest batch it saw, in
// entries and in sequences.
type countingModel struct {
	model.Model
	mu              sync.Mutex
	maxRows, maxSeq int
}

func (m *countingModel) Forward(ctx context.Context, batch []model.Entry, kv model.KV) ([]float32, error) {
	seqs := map[int]bool{}
	for _, e := range batch {
		seqs[e.Seq] = true
	}
	m.mu.Lock()
	m.maxRows, m.maxSeq = max(m.maxRows, len(batch)), max(m.maxSeq, len(seqs))
	m.mu.Unlock()
	return m.Model.Forward(ctx, batch, kv)
}

func (m *countingModel) Close() error { return nil }

func (m *countingModel) largest() (rows, seqs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxRows, m.maxSeq
}

// storiesBundle is stories260K behind a countingModel.
func storiesBundle(t *testing.T) (*engine.Bundle, *countingModel) {
	t.Helper()
	b := load(t, storiesPath(t), engine.LoadOptions{Threads: 2})
	cm := &countingModel{Model: b.Model()}
	cb, err := engine.NewBundle(cm, b.Tokenizer(), "")
	if err != nil {
		t.Fatal(err)
	}
	return cb, cm
}

// seededRequests are n different prompts with different seeds, sampled
// at temperature 1, of varied lengths.
func seededRequests(n, maxTokens int) []engine.Request {
	var rs []engine.Request
	for i := range n {
		prompt := []int32{1}
		for j := range 3 + i*7%40 {
			prompt = append(prompt, int32(10+(i*31+j*17)%400))
		}
		rs = append(rs, engine.Request{
			ID:       fmt.Sprint("r", i),
			Input:    engine.Input{IDs: prompt},
			Sampling: sample.Options{Temperature: 1, TopP: 0.95, Seed: uint64(1000 + i), MaxTokens: maxTokens},
		})
	}
	return rs
}

// runAll submits every request at once and collects the results in order.
func runAll(t *testing.T, e *engine.Engine, rs []engine.Request) []engine.Result {
	t.Helper()
	streams := make([]*engine.Stream, len(rs))
	for i, r := range rs {
		s, err := e.Submit(t.Context(), r)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		streams[i] = s
	}
	out := make([]engine.Result, len(rs))
	for i, s := range streams {
		out[i] = s.Collect()
	}
	return out
}

// TestBatchDeterminism: a seeded request gives the same tokens alone as
// in a batch of 32, with either KV element type, whatever prefill chunk
// splits the prompts.
func TestBatchDeterminism(t *testing.T) {
	for _, typ := range []kvcache.Type{kvcache.F32, kvcache.F16} {
		t.Run(typ.String(), func(t *testing.T) {
			b, cm := storiesBundle(t)
			rs := seededRequests(32, 40)
			alone := newEngine(t, b, engine.Options{KVType: typ})
			want := make([]engine.Result, len(rs))
			for i, r := range rs {
				want[i] = run(t, alone, r)
			}
			if rows, seqs := cm.largest(); seqs != 1 {
				t.Fatalf("alone: a batch of %d sequences (%d rows)", seqs, rows)
			}
			batched := newEngine(t, b, engine.Options{KVType: typ, PrefillChunk: 64, QueueSize: 32})
			got := runAll(t, batched, rs)
			for i := range rs {
				if !slices.Equal(got[i].Tokens, want[i].Tokens) || got[i].Text != want[i].Text || got[i].Final.Finish != want[i].Final.Finish {
					t.Fatalf("request %d: batched %v (%v), alone %v (%v)", i, got[i].Tokens, got[i].Final.Finish, want[i].Tokens, want[i].Final.Finish)
				}
			}
			if _, seqs := cm.largest(); seqs < 16 {
				t.Fatalf("largest batch had %d sequences; the requests did not run together", seqs)
			}
		})
	}
}

// TestPrefixCache: a request whose prompt prefix is cached (by an earlier
// request, or by Warm) gives the tokens of a cold run, and reports the
// cached tokens.
func TestPrefixCache(t *testing.T) {
	for _, typ := range []kvcache.Type{kvcache.F32, kvcache.F16} {
		t.Run(typ.String(), func(t *testing.T) {
			b, _ := storiesBundle(t)
			persona := []int32{1}
			for i := range 70 {
				persona = append(persona, int32(20+i*13%300))
			}
			req := func(suffix ...int32) engine.Request {
				return engine.Request{Input: engine.Input{IDs: append(slices.Clone(persona), suffix...)},
					Sampling: sample.Options{Temperature: 0.9, Seed: 5, MaxTokens: 30}}
			}
			cold := newEngine(t, b, engine.Options{KVType: typ})
			want := run(t, cold, req(300, 301))
			if want.Final.Usage.CachedPromptTokens != 0 {
				t.Fatalf("cold run: %d cached tokens", want.Final.Usage.CachedPromptTokens)
			}

			e := newEngine(t, b, engine.Options{KVType: typ})
			w, err := e.Warm(t.Context(), engine.Input{IDs: persona})
			if err != nil {
				t.Fatal(err)
			}
			if w.PromptTokens != 71 || w.CachedTokens != 64 || w.ComputedTokens != 64 {
				t.Fatalf("warm: %+v", w)
			}
			if again, err := e.Warm(t.Context(), engine.Input{IDs: persona}); err != nil || again.CachedTokens != 64 || again.ComputedTokens != 0 {
				t.Fatalf("warm again: %+v, %v", again, err)
			}
			got := run(t, e, req(300, 301))
			if !slices.Equal(got.Tokens, want.Tokens) || got.Final.Usage.CachedPromptTokens != 64 {
				t.Fatalf("warm run: %v with %d cached, cold %v", got.Tokens, got.Final.Usage.CachedPromptTokens, want.Tokens)
			}
			// A request that shares the first request's whole prompt
			// reuses the blocks it published, beyond the warmed prefix.
			first := run(t, e, req(300, 301, 302, 303, 304, 305, 306, 307, 308, 309))
			second := run(t, e, req(300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310))
			if first.Final.Usage.CachedPromptTokens != 64 || second.Final.Usage.CachedPromptTokens != 80 {
				t.Fatalf("cached tokens %d then %d", first.Final.Usage.CachedPromptTokens, second.Final.Usage.CachedPromptTokens)
			}
			coldSecond := run(t, cold, req(300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310))
			if !slices.Equal(second.Tokens, coldSecond.Tokens) {
				t.Fatalf("second: %v, cold %v", second.Tokens, coldSecond.Tokens)
			}
			st := e.Stats()
			if st.KV.HitTokens == 0 || st.PrefixHitRatio() <= 0 || st.PrefixHitRatio() > 1 || st.KV.Pinned != 4 {
				t.Fatalf("stats %+v, hit ratio %v", st.KV, st.PrefixHitRatio())
			}
			if short, err := e.Warm(t.Context(), engine.Input{IDs: persona[:10]}); err != nil || short != (engine.WarmResult{PromptTokens: 10, Took: short.Took}) {
				t.Fatalf("warm of less than a block: %+v, %v", short, err)
			}
			if _, err := e.Warm(t.Context(), engine.Input{IDs: []int32{-1}}); !errors.Is(err, engine.ErrInvalidRequest) {
				t.Fatalf("warm of a bad prompt: %v", err)
			}
		})
	}
}

// TestCancelFreesBlocks: a cancelled sequence gives its blocks back by
// the time its final event arrives.
func TestCancelFreesBlocks(t *testing.T) {
	b, _ := storiesBundle(t)
	e := newEngine(t, b, engine.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := e.Submit(ctx, greedy([]int32{1, 50, 60, 70}, 0))
	if err != nil {
		t.Fatal(err)
	}
	for ev := range s.Events() {
		if len(ev.Tokens) > 0 {
			break // leaving the loop cancels
		}
	}
	res := s.Collect()
	_ = res
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.Stats()
		if st.KV.Used == 0 && st.KV.Sequences == 0 && st.Running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocks still held after cancelling: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPreemption: with a cache too small for every sequence at once, the
// scheduler preempts and recomputes, and every request still gets the
// tokens it gets alone.
func TestPreemption(t *testing.T) {
	for _, typ := range []kvcache.Type{kvcache.F32, kvcache.F16} {
		t.Run(typ.String(), func(t *testing.T) {
			b, _ := storiesBundle(t)
			cfg := b.Model().Config()
			block, err := kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Type: typ}.BlockBytes()
			if err != nil {
				t.Fatal(err)
			}
			rs := seededRequests(6, 120)
			for i := range rs {
				// Never stop early: every sequence grows to its full length.
				rs[i].Sampling.LogitBias = map[int32]float32{2: -1e9}
			}
			alone := newEngine(t, b, engine.Options{KVType: typ})
			want := make([]engine.Result, len(rs))
			for i, r := range rs {
				want[i] = run(t, alone, r)
			}
			// 24 blocks of 16 tokens: two or three sequences of up to 160
			// tokens at a time.
			small := newEngine(t, b, engine.Options{KVType: typ, KVMemory: 24 * block})
			got := runAll(t, small, rs)
			for i := range rs {
				if !slices.Equal(got[i].Tokens, want[i].Tokens) || got[i].Final.Finish != engine.FinishLength {
					t.Fatalf("request %d: %v (%v %v), alone %v", i, got[i].Tokens, got[i].Final.Finish, got[i].Final.Err, want[i].Tokens)
				}
			}
			if st := small.Stats(); st.Preemptions == 0 || st.KV.Used != 0 {
				t.Fatalf("stats %+v: no preemption", st)
			}
		})
	}
}

// TestTooLargeForCache: a sequence the whole cache cannot hold ends with
// an error instead of waiting forever.
func TestTooLargeForCache(t *testing.T) {
	b, _ := storiesBundle(t)
	cfg := b.Model().Config()
	block, err := kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim}.BlockBytes()
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, b, engine.Options{KVMemory: 4 * block})
	r := greedy([]int32{1}, 100)
	r.Sampling.LogitBias = map[int32]float32{2: -1e9}
	res := run(t, e, r)
	if res.Final.Finish != engine.FinishError || len(res.Tokens) != 64 {
		t.Fatalf("final %+v after %d tokens", res.Final, len(res.Tokens))
	}
	if st := e.Stats(); st.KV.Used != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOverloadedTokens: the queue is bounded by its prompt tokens too,
// and the refusal is immediate and typed.
func TestOverloadedTokens(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	f := newFixture(t, repeat(tEOS), func(_ context.Context, call int, _ []model.Entry) error {
		if call == 1 {
			close(started)
			<-release
		}
		return nil
	}, engine.Options{QueueSize: 10, QueueTokens: 8})
	running, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	var queued []*engine.Stream
	for range 2 {
		s, err := f.e.Submit(t.Context(), greedy(slices.Repeat([]int32{tBOS}, 4), 1))
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, s)
	}
	if _, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1)); !errors.Is(err, engine.ErrOverloaded) {
		t.Fatalf("a ninth queued token: %v, want ErrOverloaded", err)
	}
	close(release)
	for _, s := range append(queued, running) {
		if res := s.Collect(); res.Final.Finish != engine.FinishStop {
			t.Fatalf("final %+v", res.Final)
		}
	}
	// Once the queue drained, a long prompt alone is taken.
	if _, err := f.e.Submit(t.Context(), greedy(slices.Repeat([]int32{tBOS}, 20), 1)); err != nil {
		t.Fatal(err)
	}
}

// TestPriority: with room for one sequence, queued requests start by
// class, and in arrival order inside a class.
func TestPriority(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var order []int32
	f := newFixture(t, repeat(tEOS), func(_ context.Context, call int, batch []model.Entry) error {
		if call == 1 {
			close(started)
			<-release
		}
		mu.Lock()
		order = append(order, int32(len(batch)))
		mu.Unlock()
		return nil
	}, engine.Options{MaxRunning: 1})
	if _, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1)); err != nil {
		t.Fatal(err)
	}
	<-started
	// Prompt lengths tell the requests apart in the model's batches.
	submit := func(n int, p engine.Priority) *engine.Stream {
		r := greedy(slices.Repeat([]int32{tBOS}, n), 1)
		r.Priority = p
		s, err := f.e.Submit(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	streams := []*engine.Stream{
		submit(2, engine.PriorityBatch), submit(3, engine.PriorityPreview), submit(4, engine.PriorityLive),
		submit(5, engine.PriorityBatch), submit(6, engine.PriorityLive),
	}
	close(release)
	for _, s := range streams {
		s.Collect()
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int32{1, 4, 6, 3, 2, 5}; !slices.Equal(order, want) {
		t.Fatalf("batches of %v tokens, want %v", order, want)
	}
}
