package sample

import (
	"errors"
	"fmt"
	"math"
)

// DefaultPenaltyWindow is how many recent tokens the penalties look at when
// Options.PenaltyWindow is 0 (llama.cpp's default, penalty_last_n = 64).
const DefaultPenaltyWindow = 64

// Options configures one request's sampling. The zero value is greedy
// decoding with no penalties, no stop conditions and no token limit.
//
// Processing order: LogitBias, then the penalties over the last
// PenaltyWindow accepted tokens, then Temperature, TopK, MinP and TopP
// (TopP's mass is measured over the tokens TopK kept), then one draw.
type Options struct {
	// Temperature divides the logits before the softmax. 0 means greedy.
	Temperature float32
	// TopK keeps only the K most likely tokens; 0 disables it.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// adds up to at least TopP; 0 or 1 disables it.
	TopP float32
	// MinP drops tokens whose probability is below MinP times the most
	// likely token's; 0 disables it.
	MinP float32

	// RepeatPenalty divides positive logits and multiplies negative ones of
	// every token seen in the window (llama.cpp/CTRL style); 0 or 1 disables it.
	RepeatPenalty float32
	// PresencePenalty is subtracted once from the logit of every token seen
	// in the window (OpenAI style).
	PresencePenalty float32
	// FrequencyPenalty is subtracted from a token's logit once per time it
	// occurs in the window (OpenAI style).
	FrequencyPenalty float32
	// PenaltyWindow is how many of the most recently accepted tokens the
	// penalties look at; 0 means DefaultPenaltyWindow.
	PenaltyWindow int

	// LogitBias is added to the logits of the given token ids before
	// anything else; ids outside the vocabulary are ignored. Use
	// float32(math.Inf(-1)) to ban a token.
	LogitBias map[int32]float32

	// Seed seeds the request's random source; equal seeds and equal logits
	// give equal tokens.
	Seed uint64

	// MaxTokens ends generation after this many generated tokens; 0 means
	// no limit.
	MaxTokens int
	// StopTokens end generation when sampled; the stop token is not part of
	// the output text.
	StopTokens []int32
	// StopStrings end generation when the output text contains one of them;
	// the text from the stop string on is not emitted.
	StopStrings []string
}

// Sentinel errors returned by Options.Validate.
var (
	// ErrInvalidOptions wraps every option that is out of range.
	ErrInvalidOptions = errors.New("invalid sampling options")
)

// Validate reports the first option that is out of range.
func (o Options) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, a...)...)
	}
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch {
	case !finite(o.Temperature) || o.Temperature < 0:
		return bad("temperature %v must be a finite number >= 0", o.Temperature)
	case o.TopK < 0:
		return bad("top_k %d must be >= 0", o.TopK)
	case !finite(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return bad("top_p %v must be in [0, 1]", o.TopP)
	case !finite(o.MinP) || o.MinP < 0 || o.MinP > 1:
		return bad("min_p %v must be in [0, 1]", o.MinP)
	case !finite(o.RepeatPenalty) || o.RepeatPenalty < 0:
		return bad("repeat_penalty %v must be a finite number >= 0", o.RepeatPenalty)
	case !finite(o.PresencePenalty):
		return bad("presence_penalty %v must be finite", o.PresencePenalty)
	case !finite(o.FrequencyPenalty):
		return bad("frequency_penalty %v must be finite", o.FrequencyPenalty)
	case o.PenaltyWindow < 0:
		return bad("penalty window %d must be >= 0", o.PenaltyWindow)
	case o.MaxTokens < 0:
		return bad("max_tokens %d must be >= 0", o.MaxTokens)
	}
	for id, b := range o.LogitBias {
		if id < 0 {
			return bad("logit bias for negative token id %d", id)
		}
		if math.IsNaN(float64(b)) || math.IsInf(float64(b), 1) {
			return bad("logit bias %v for token %d must be a number or -Inf", b, id)
		}
	}
	for _, id := range o.StopTokens {
		if id < 0 {
			return bad("negative stop token id %d", id)
		}
	}
	for i, s := range o.StopStrings {
		if s == "" {
			return bad("stop string %d is empty", i)
		}
	}
	return nil
}

func (o Options) penalised() bool {
	return (o.RepeatPenalty != 0 && o.RepeatPenalty != 1) || o.PresencePenalty != 0 || o.FrequencyPenalty != 0
}
