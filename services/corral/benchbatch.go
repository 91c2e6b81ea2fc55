package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
)

// Sizes of the batched measurements, as the issue and llama-batched-bench
// set them: each sequence has a 128-token prompt and generates 128 tokens;
// the warm-prefix request adds a short user message to the persona prompt.
const (
	batchPrompt  = 128
	batchGen     = 128
	prefixSuffix = 16
)

// parseCounts reads --concurrency: positive whole numbers, comma-separated.
func parseCounts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, usageError{fmt.Sprintf("--concurrency: %q is not a count from 1 to 1024", f)}
		}
		out = append(out, n)
	}
	return out, nil
}

// benchPromptIDs is a prompt of n fixed, spread-out token ids; salt makes
// prompts of different runs differ from their first token on, so the
// prefix cache never serves one from another.
func benchPromptIDs(n, salt int, vocab int32) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((i+salt*104729)*7919+1) % vocab
		if p[i] < 0 {
			p[i] += vocab
		}
	}
	return p
}

// aggregateDecode runs n sequences at once, each with a batchPrompt-token
// prompt and batchGen generated tokens, and returns the decode tokens per
// second of all of them together, measured while all n decode: from the
// moment the last one got its first token to the moment the first one
// finished.
func aggregateDecode(ctx context.Context, e *engine.Engine, n, salt int, vocab int32, bias map[int32]float32) (float64, error) {
	type stamp struct {
		at     time.Time
		tokens int
	}
	start := time.Now()
	stamps := make([][]stamp, n)
	ends := make([]time.Time, n)
	errs := make([]error, n)
	streams := make([]*engine.Stream, n)
	for i := range n {
		s, err := e.Submit(ctx, engine.Request{
			Input:    engine.Input{IDs: benchPromptIDs(batchPrompt, salt*1000+i, vocab)},
			Sampling: sample.Options{MaxTokens: batchGen, LogitBias: bias}, Priority: engine.PriorityBatch,
		})
		if err != nil {
			for _, s := range streams[:i] {
				s.Cancel()
			}
			return 0, err
		}
		streams[i] = s
	}
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			for ev := range s.Events() {
				now := time.Now()
				if len(ev.Tokens) > 0 {
					stamps[i] = append(stamps[i], stamp{now, len(ev.Tokens)})
				}
				if ev.Final() {
					ends[i] = now
					if ev.Finish != engine.FinishLength {
						errs[i] = fmt.Errorf("bench: generation ended early (%s): %v", ev.Finish, ev.Err)
					}
				}
			}
		})
	}
	wg.Wait()
	var from, to time.Time
	for i := range n {
		if errs[i] != nil {
			return 0, errs[i]
		}
		if first := stamps[i][0].at; first.After(from) {
			from = first
		}
		if to.IsZero() || ends[i].Before(to) {
			to = ends[i]
		}
	}
	tokens := 0
	for i := range n {
		for _, s := range stamps[i] {
			if s.at.After(from) && !s.at.After(to) {
				tokens += s.tokens
			}
		}
	}
	if !to.After(from) || tokens == 0 {
		// A reader that was descheduled gets its tokens merged into few
		// events, which can leave no window with every sequence decoding
		// (it happens on an oversubscribed machine). Fall back to every
		// token over the whole run, prefill included: a lower bound.
		total := 0
		for i := range n {
			for _, s := range stamps[i] {
				total += s.tokens
			}
		}
		last := slices.MaxFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
		if total == 0 || !last.After(start) {
			return 0, fmt.Errorf("bench: %d sequences generated nothing measurable", n)
		}
		return float64(total) / last.Sub(start).Seconds(), nil
	}
	return float64(tokens) / to.Sub(from).Seconds(), nil
}

// prefixTTFT measures the time to first token of a request whose first
// prefix tokens are a persona prompt followed by a short user message:
// cold (nothing cached), then warm (the persona prompt warmed first, a
// different message). It returns the medians of runs, in milliseconds.
func prefixTTFT(ctx context.Context, e *engine.Engine, prefix, runs int, vocab int32, bias map[int32]float32) (cold, warm float64, err error) {
	first := func(ids []int32) (float64, error) {
		s, err := e.Submit(ctx, engine.Request{Input: engine.Input{IDs: ids}, Sampling: sample.Options{MaxTokens: 1, LogitBias: bias}})
		if err != nil {
			return 0, err
		}
		f := s.Collect().Final
		if f.Usage.CompletionTokens != 1 {
			return 0, fmt.Errorf("bench: generation ended early (%s): %v", f.Finish, f.Err)
		}
		return float64(f.Timings.FirstToken.Microseconds()) / 1000, nil
	}
	var colds, warms []float64
	for r := range runs {
		persona := benchPromptIDs(prefix, 7000+r, vocab)
		msg := func(salt int) []int32 {
			return append(slices.Clone(persona), benchPromptIDs(prefixSuffix, salt, vocab)...)
		}
		c, err := first(msg(8000 + 2*r))
		if err != nil {
			return 0, 0, err
		}
		if _, err := e.Warm(ctx, engine.Input{IDs: persona}); err != nil {
			return 0, 0, err
		}
		w, err := first(msg(8001 + 2*r))
		if err != nil {
			return 0, 0, err
		}
		colds, warms = append(colds, c), append(warms, w)
	}
	return median(colds), median(warms), nil
}
