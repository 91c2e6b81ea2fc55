package sample

import (
	"math/rand/v2"
	"testing"
)

// llama3Vocab is Llama 3's vocabulary size, the largest the engine serves.
const llama3Vocab = 128256

func benchLogits() []float32 {
	r := rand.New(rand.NewPCG(9, 9))
	l := make([]float32, llama3Vocab)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 3)
	}
	return l
}

func BenchmarkSample(b *testing.B) {
	cases := []struct {
		name string
		o    Options
	}{
		{"greedy", Options{}},
		{"temperature", Options{Temperature: 0.8}},
		{"top_k40", Options{Temperature: 0.8, TopK: 40}},
		{"top_p0.9", Options{Temperature: 0.8, TopP: 0.9}},
		{"min_p0.05", Options{Temperature: 0.8, MinP: 0.05}},
		{"chat_defaults", Options{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1}},
		{"penalties", Options{Temperature: 0.8, TopP: 0.9, RepeatPenalty: 1.1, PresencePenalty: 0.5, FrequencyPenalty: 0.5}},
	}
	src := benchLogits()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := mustNew(b, c.o)
			for i := range 64 {
				s.Accept(int32(i * 97))
			}
			logits := make([]float32, len(src))
			for b.Loop() {
				copy(logits, src)
				s.Sample(logits)
			}
		})
	}
}

func BenchmarkStopMatcher(b *testing.B) {
	stops := []string{"<|eot_id|>", "\nUser:", "###"}
	pieces := []string{" The", " quick", " brown", " fox", " jumps", "\n", "Us", "ually", "."}
	m := NewStopMatcher(stops)
	for b.Loop() {
		for _, p := range pieces {
			m.Push(p)
		}
		m.Flush()
	}
}
