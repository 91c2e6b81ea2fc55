package sample

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/corral-ai/corral/inference/kernels"
)

// StopReason says why a request ended, or NotStopped.
type StopReason int

// Stop reasons, in the order Next checks them.
const (
	NotStopped StopReason = iota
	StopToken             // a token in Options.StopTokens was sampled
	StopString            // the text contained one of Options.StopStrings
	MaxTokens             // Options.MaxTokens tokens were generated
)

func (r StopReason) String() string {
	switch r {
	case NotStopped:
		return "none"
	case StopToken:
		return "stop_token"
	case StopString:
		return "stop_string"
	case MaxTokens:
		return "max_tokens"
	}
	return "unknown"
}

// Sampler draws tokens for one request. It is not safe for concurrent use;
// each request has its own.
type Sampler struct {
	opts   Options
	rng    *rand.Rand
	stops  map[int32]struct{}
	text   *StopMatcher
	window []int32 // ring buffer of the last accepted tokens
	head   int     // next slot of window to overwrite once it is full
	counts map[int32]int
	n      int         // tokens generated through Next
	cands  []candidate // scratch reused between draws
}

// candidate is one token still in the running, with its scaled logit.
type candidate struct {
	id    int32
	logit float32
	w     float32 // probability relative to the best token's, set after top-k
}

// New validates o and builds a Sampler from it.
func New(o Options) (*Sampler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.PenaltyWindow == 0 {
		o.PenaltyWindow = DefaultPenaltyWindow
	}
	if o.RepeatPenalty == 0 {
		o.RepeatPenalty = 1
	}
	if o.TopP == 0 {
		o.TopP = 1
	}
	s := &Sampler{
		opts:   o,
		rng:    rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		stops:  make(map[int32]struct{}, len(o.StopTokens)),
		text:   NewStopMatcher(o.StopStrings),
		counts: make(map[int32]int),
	}
	for _, id := range o.StopTokens {
		s.stops[id] = struct{}{}
	}
	return s, nil
}

// Accept records a token in the penalty window. Next calls it for the tokens
// it returns; callers use it for prompt tokens that should count too.
func (s *Sampler) Accept(id int32) {
	if !s.opts.penalised() {
		return
	}
	if len(s.window) < s.opts.PenaltyWindow {
		s.window = append(s.window, id)
	} else {
		old := s.window[s.head]
		if s.counts[old]--; s.counts[old] == 0 {
			delete(s.counts, old)
		}
		s.window[s.head] = id
		s.head = (s.head + 1) % len(s.window)
	}
	s.counts[id]++
}

// Next samples a token from logits, accepts it, counts it and says whether
// generation should stop after it. On StopToken the token is not part of
// the output. Next uses logits as scratch space and changes them.
func (s *Sampler) Next(logits []float32) (int32, StopReason) {
	id := s.Sample(logits)
	s.Accept(id)
	s.n++
	if _, ok := s.stops[id]; ok {
		return id, StopToken
	}
	if s.opts.MaxTokens > 0 && s.n >= s.opts.MaxTokens {
		return id, MaxTokens
	}
	return id, NotStopped
}

// Generated returns how many tokens Next has returned.
func (s *Sampler) Generated() int { return s.n }

// Text feeds a decoded piece of output to the stop-string matcher and
// returns the text that is safe to show now. When stopped is true the
// request is over and nothing more should be shown.
func (s *Sampler) Text(piece string) (emit string, stopped bool) {
	return s.text.Push(piece)
}

// Flush returns text the stop-string matcher held back, for the end of a
// request that did not stop on a stop string.
func (s *Sampler) Flush() string { return s.text.Flush() }

// Sample draws one token from logits without recording it anywhere. It uses
// logits as scratch space and changes them. It returns 0 for empty logits.
func (s *Sampler) Sample(logits []float32) int32 {
	if len(logits) == 0 {
		return 0
	}
	s.adjust(logits)
	best := argmax(logits)
	if s.opts.Temperature == 0 || !(logits[best] > float32(math.Inf(-1))) {
		return int32(best)
	}
	var cands []candidate
	if k := s.opts.TopK; k > 0 && k <= heapTopK {
		cands = heapTop(s.cands[:0], logits, k)
	} else {
		cands = s.candidates(logits)
		if k > 0 && k < len(cands) {
			cands = cands[:selectTop(cands, k)]
		}
	}
	// Weights are probabilities relative to the most likely token's: w = 1
	// for it, and the softmax is w / sum(w).
	max, invT := float64(logits[best]), 1/float64(s.opts.Temperature)
	if p := s.opts.MinP; p > 0 && s.opts.TopP >= 1 {
		// Nothing needs the mass of what min-p drops, so drop it before
		// the exps, in logit terms (with a little slack; the exact test on
		// the weights below decides the boundary).
		cut := float32(max+math.Log(float64(p))/invT) - 1e-3
		kept := cands[:0]
		for _, c := range cands {
			if c.logit >= cut {
				kept = append(kept, c)
			}
		}
		cands = kept
	}
	s.cands = cands
	var z float64
	for i := range cands {
		w := kernels.Exp(float32((float64(cands[i].logit) - max) * invT))
		cands[i].w = w
		z += float64(w)
	}
	zk := z // top-p measures mass over what top-k kept, before min-p
	if p := s.opts.MinP; p > 0 {
		kept := cands[:0]
		for _, c := range cands {
			if c.w >= p {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(cands) {
			cands = kept
			z = mass(cands)
		}
	}
	// Min-p and top-p each keep a best-first prefix of the ranking, so
	// cutting top-p's prefix out of min-p's survivors is their intersection.
	if p := s.opts.TopP; p < 1 {
		// Tokens lighter than tau weigh less than (1-p)*zk all together, so
		// none of them can be inside the nucleus: drop them before selecting.
		tau := float32((1 - float64(p)) * zk / float64(len(cands)))
		kept := cands[:0]
		for _, c := range cands {
			if c.w >= tau {
				kept = append(kept, c)
			}
		}
		cands = kept
		m := selectMass(cands, float64(p)*zk)
		cands = cands[:m]
		z = mass(cands)
	}
	r := s.rng.Float64() * z
	var acc float64
	for _, c := range cands {
		if acc += float64(c.w); r < acc {
			return c.id
		}
	}
	return cands[len(cands)-1].id // rounding left r just above the sum
}

// adjust applies the logit bias and the penalties in place.
func (s *Sampler) adjust(logits []float32) {
	for id, b := range s.opts.LogitBias {
		if int(id) < len(logits) {
			logits[id] += b
		}
	}
	if !s.opts.penalised() {
		return
	}
	rp, pp, fp := s.opts.RepeatPenalty, s.opts.PresencePenalty, s.opts.FrequencyPenalty
	for id, n := range s.counts {
		if int(id) >= len(logits) || id < 0 {
			continue
		}
		l := logits[id]
		if l > 0 {
			l /= rp
		} else {
			l *= rp
		}
		logits[id] = l - pp - fp*float32(n)
	}
}

// candidates fills the scratch list with every token whose logit is a
// number above -Inf.
func (s *Sampler) candidates(logits []float32) []candidate {
	c := slices.Grow(s.cands[:0], len(logits))
	for i, l := range logits {
		if l > float32(math.Inf(-1)) { // false for NaN too
			c = append(c, candidate{id: int32(i), logit: l})
		}
	}
	return c
}

// mass returns the sum of the weights of cands.
func mass(cands []candidate) float64 {
	var sum float64
	for _, c := range cands {
		sum += float64(c.w)
	}
	return sum
}

// argmax returns the first index of the largest value; NaN never wins, and
// it returns 0 when no value is above -Inf.
func argmax(x []float32) int {
	best, bv := 0, float32(math.Inf(-1))
	for i, v := range x {
		if v > bv {
			best, bv = i, v
		}
	}
	return best
}
