package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"zero value is greedy and valid", Options{}, true},
		{"typical chat options", Options{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1, Seed: 7}, true},
		{"negative temperature", Options{Temperature: -1}, false},
		{"NaN temperature", Options{Temperature: nan}, false},
		{"negative top_k", Options{TopK: -1}, false},
		{"top_p above one", Options{TopP: 1.5}, false},
		{"min_p below zero", Options{MinP: -0.1}, false},
		{"negative repeat penalty", Options{RepeatPenalty: -1}, false},
		{"infinite presence penalty", Options{PresencePenalty: float32(math.Inf(1))}, false},
		{"negative window", Options{PenaltyWindow: -1}, false},
		{"negative max tokens", Options{MaxTokens: -1}, false},
		{"ban by -Inf bias", Options{LogitBias: map[int32]float32{3: float32(math.Inf(-1))}}, true},
		{"+Inf bias", Options{LogitBias: map[int32]float32{3: float32(math.Inf(1))}}, false},
		{"negative bias id", Options{LogitBias: map[int32]float32{-3: 1}}, false},
		{"negative stop token", Options{StopTokens: []int32{-1}}, false},
		{"empty stop string", Options{StopStrings: []string{"a", ""}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error %v does not wrap ErrInvalidOptions", err)
			}
			if _, err := New(tt.o); (err == nil) != tt.ok {
				t.Fatalf("New() error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func mustNew(t testing.TB, o Options) *Sampler {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGreedy(t *testing.T) {
	tests := []struct {
		name   string
		o      Options
		seen   []int32
		logits []float32
		want   int32
	}{
		{"largest", Options{}, nil, []float32{0, 3, 1, 2}, 1},
		{"first of ties", Options{}, nil, []float32{1, 5, 2, 5, 5}, 1},
		{"all equal", Options{}, nil, []float32{2, 2, 2}, 0},
		{"negative logits", Options{}, nil, []float32{-3, -1, -2}, 1},
		{"bias lifts a token", Options{LogitBias: map[int32]float32{2: 10}}, nil, []float32{0, 3, 1}, 2},
		{"bias bans a token", Options{LogitBias: map[int32]float32{1: float32(math.Inf(-1))}}, nil, []float32{0, 3, 1}, 2},
		{"bias id beyond vocab ignored", Options{LogitBias: map[int32]float32{99: 10}}, nil, []float32{0, 3, 1}, 1},
		{"repeat penalty divides positive logit", Options{RepeatPenalty: 2}, []int32{1}, []float32{0, 3, 2}, 2},
		{"repeat penalty multiplies negative logit", Options{RepeatPenalty: 2}, []int32{1}, []float32{-3.5, -1, -2.5}, 1},
		{"repeat penalty pushes negative below", Options{RepeatPenalty: 3}, []int32{1}, []float32{-2.5, -1, -2.9}, 0},
		{"presence penalty once", Options{PresencePenalty: 1.5}, []int32{1, 1, 1}, []float32{0, 3, 2}, 2},
		{"presence penalty too small", Options{PresencePenalty: 0.5}, []int32{1, 1, 1}, []float32{0, 3, 2}, 1},
		{"frequency penalty per occurrence", Options{FrequencyPenalty: 0.4}, []int32{1, 1, 1}, []float32{0, 3, 2}, 2},
		{"frequency penalty one occurrence", Options{FrequencyPenalty: 0.4}, []int32{1}, []float32{0, 3, 2}, 1},
		{"window forgets old tokens", Options{PresencePenalty: 5, PenaltyWindow: 2}, []int32{1, 0, 0}, []float32{0, 3, 2}, 1},
		{"window keeps recent tokens", Options{PresencePenalty: 5, PenaltyWindow: 3}, []int32{1, 0, 0}, []float32{0, 3, 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.o)
			for _, id := range tt.seen {
				s.Accept(id)
			}
			if got := s.Sample(slices.Clone(tt.logits)); got != tt.want {
				t.Fatalf("Sample = %d, want %d", got, tt.want)
			}
		})
	}
}

// support draws n tokens and returns the set of ids seen.
func support(t *testing.T, o Options, logits []float32, n int) map[int32]int {
	t.Helper()
	s := mustNew(t, o)
	seen := map[int32]int{}
	for range n {
		seen[s.Sample(slices.Clone(logits))]++
	}
	return seen
}

// logp turns probabilities into logits.
func logp(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, v := range p {
		l[i] = float32(math.Log(v))
	}
	return l
}

func TestFilters(t *testing.T) {
	probs := logp(0.05, 0.5, 0.15, 0.3) // ranked 1, 3, 2, 0
	tests := []struct {
		name string
		o    Options
		want []int32
	}{
		{"no filter", Options{Temperature: 1}, []int32{0, 1, 2, 3}},
		{"top_k 1", Options{Temperature: 1, TopK: 1}, []int32{1}},
		{"top_k 3", Options{Temperature: 1, TopK: 3}, []int32{1, 2, 3}},
		{"top_k above vocab", Options{Temperature: 1, TopK: 10}, []int32{0, 1, 2, 3}},
		{"top_p 0.5 keeps one", Options{Temperature: 1, TopP: 0.5}, []int32{1}},
		{"top_p 0.7 keeps two", Options{Temperature: 1, TopP: 0.7}, []int32{1, 3}},
		{"top_p 0.81 keeps three", Options{Temperature: 1, TopP: 0.81}, []int32{1, 2, 3}},
		{"top_p after top_k", Options{Temperature: 1, TopK: 2, TopP: 0.7}, []int32{1, 3}},
		{"top_p over top_k mass", Options{Temperature: 1, TopK: 2, TopP: 0.65}, []int32{1, 3}},
		{"top_p over top_k mass keeps one", Options{Temperature: 1, TopK: 2, TopP: 0.6}, []int32{1}},
		{"min_p 0.5", Options{Temperature: 1, MinP: 0.5}, []int32{1, 3}},
		{"min_p 0.29", Options{Temperature: 1, MinP: 0.29}, []int32{1, 2, 3}},
		{"min_p narrows top_p", Options{Temperature: 1, MinP: 0.5, TopP: 0.9}, []int32{1, 3}},
		{"low temperature sharpens before top_p", Options{Temperature: 0.25, TopP: 0.85}, []int32{1}},
		{"ban beats filters", Options{Temperature: 1, TopK: 2, LogitBias: map[int32]float32{1: float32(math.Inf(-1))}}, []int32{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := support(t, tt.o, probs, 4000)
			got := make([]int32, 0, len(seen))
			for id := range seen {
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("support %v, want %v (counts %v)", got, tt.want, seen)
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	// With a fixed seed this is deterministic; the bounds are 5 sigma wide.
	probs := []float64{0.05, 0.5, 0.15, 0.3}
	const n = 20000
	seen := support(t, Options{Temperature: 1, Seed: 42}, logp(probs...), n)
	for id, p := range probs {
		got := float64(seen[int32(id)]) / n
		sigma := math.Sqrt(p * (1 - p) / n)
		if math.Abs(got-p) > 5*sigma {
			t.Errorf("token %d: frequency %.4f, want %.4f ± %.4f", id, got, p, 5*sigma)
		}
	}
	// Temperature 2 flattens: p_i ∝ sqrt(probs_i).
	seen = support(t, Options{Temperature: 2, Seed: 43}, logp(probs...), n)
	var z float64
	for _, p := range probs {
		z += math.Sqrt(p)
	}
	for id, p := range probs {
		want := math.Sqrt(p) / z
		got := float64(seen[int32(id)]) / n
		if sigma := math.Sqrt(want * (1 - want) / n); math.Abs(got-want) > 5*sigma {
			t.Errorf("T=2 token %d: frequency %.4f, want %.4f", id, got, want)
		}
	}
}

func TestSeeded(t *testing.T) {
	logits := make([]float32, 1000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
	}
	draw := func(seed uint64) []int32 {
		s := mustNew(t, Options{Temperature: 0.9, TopK: 100, TopP: 0.9, MinP: 0.01, RepeatPenalty: 1.1, Seed: seed})
		var out []int32
		for range 50 {
			id, _ := s.Next(slices.Clone(logits))
			out = append(out, id)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave different tokens:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("seeds 7 and 8 gave the same 50 tokens: %v", a)
	}
}

func TestNextStops(t *testing.T) {
	logits := []float32{0, 1, 5, 2}
	tests := []struct {
		name  string
		o     Options
		steps int
		want  StopReason
	}{
		{"no limits", Options{}, 10, NotStopped},
		{"max tokens", Options{MaxTokens: 3}, 3, MaxTokens},
		{"stop token", Options{StopTokens: []int32{7, 2}}, 1, StopToken},
		{"stop token beats max tokens", Options{StopTokens: []int32{2}, MaxTokens: 1}, 1, StopToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.o)
			var reason StopReason
			for i := range tt.steps {
				var id int32
				id, reason = s.Next(slices.Clone(logits))
				if id != 2 {
					t.Fatalf("step %d: id %d, want 2", i, id)
				}
				if reason != NotStopped && i != tt.steps-1 {
					t.Fatalf("stopped early at step %d: %v", i, reason)
				}
			}
			if reason != tt.want {
				t.Fatalf("reason %v, want %v", reason, tt.want)
			}
			if s.Generated() != tt.steps {
				t.Fatalf("Generated() = %d, want %d", s.Generated(), tt.steps)
			}
		})
	}
}

func TestSamplerText(t *testing.T) {
	s := mustNew(t, Options{StopStrings: []string{"</s>"}})
	var out string
	for _, p := range []string{"hello <", "/", "b> world </", "s> ignored"} {
		emit, stopped := s.Text(p)
		out += emit
		if stopped {
			break
		}
	}
	if out != "hello </b> world " {
		t.Fatalf("text %q", out)
	}
	if emit, stopped := s.Text("more"); emit != "" || !stopped {
		t.Fatalf("after stop: %q %v", emit, stopped)
	}
}

func TestEdgeLogits(t *testing.T) {
	inf := float32(math.Inf(-1))
	tests := []struct {
		name   string
		o      Options
		logits []float32
		want   int32
	}{
		{"empty", Options{Temperature: 1}, nil, 0},
		{"all banned", Options{Temperature: 1}, []float32{inf, inf}, 0},
		{"one left", Options{Temperature: 1, TopP: 0.5}, []float32{inf, 3, inf}, 1},
		{"NaN never drawn", Options{Temperature: 1}, []float32{float32(math.NaN()), 0, inf}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.o)
			for range 20 {
				if got := s.Sample(slices.Clone(tt.logits)); got != tt.want {
					t.Fatalf("got %d, want %d", got, tt.want)
				}
			}
		})
	}
}
