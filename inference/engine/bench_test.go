package engine_test

import (
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
)

// BenchmarkOverhead measures what each generated token costs besides the
// forward pass: greedy sampling over a Llama-2-sized vocabulary (most of
// it), decoding, stop strings, the stream. The model is scripted, so a
// forward pass costs next to nothing; compare with a real decode step
// (about 3 ms for llama-110m on 2 threads).
func BenchmarkOverhead(b *testing.B) {
	const perRequest = 256
	tok := testTokenizer(b)
	hello := word(b, "▁Hello")
	for _, bc := range []struct {
		name string
		o    sample.Options
	}{
		{"greedy", sample.Options{MaxTokens: perRequest}},
		{"greedy_stop_strings", sample.Options{MaxTokens: perRequest, StopStrings: []string{"\nUser:", "###"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := &scripted{cfg: model.Config{Name: "scripted", Vocab: 32000, ContextLength: 4096, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 1}, next: repeat(hello)}
			bundle, err := engine.NewBundle(m, tok, "")
			if err != nil {
				b.Fatal(err)
			}
			e, err := engine.New(bundle, engine.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { e.Close(b.Context()) })
			tokens := 0
			for b.Loop() {
				s, err := e.Submit(b.Context(), engine.Request{Input: engine.Input{IDs: []int32{tBOS}}, Sampling: bc.o})
				if err != nil {
					b.Fatal(err)
				}
				tokens += len(s.Collect().Tokens)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(tokens), "µs/token")
		})
	}
}
