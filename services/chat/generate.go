package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/natsbus"
)

// Prompt sizing. The inference service's count endpoint counts every
// message of the conversation with the model's tokenizer, and the whole
// conversation rendered with its chat template, which gives the
// template's tokens per message; the history is bounded by those counts.
// When the service cannot count (a replica older than the endpoint, a
// timeout) the chat role estimates conservatively (a token per three
// bytes, more than SentencePiece and BPE vocabularies take for most
// text). Should the service still find the prompt too long, it is
// assembled again with a smaller budget.
const (
	bytesPerToken    = 3
	perMessageTokens = 8 // estimated role headers and end-of-turn markers of a template
	promptRetries    = 2
	modelInfoTTL     = 5 * time.Minute
	countTimeout     = 2 * time.Second
	countSlack       = 8 // messages per token of slack in an exact count
)

func approxTokens(s string) int { return (len(s) + bytesPerToken - 1) / bytesPerToken }

// generated is a reply the model wrote, after the safety stage.
type generated struct {
	text    string // what the user gets
	stored  string // what history keeps (personal data masked)
	verdict *corralv1.SafetyVerdict
	refused bool
	// prompt is the prompt's tokens and the prefix cache's share of them,
	// for the persona's hit rate; zero when the stream ended before its
	// final event.
	prompt store.PromptUse
}

// generate asks the inference service for the reply of persona v to
// turns (the history, ending with the user's messages).
func (r *Role) generate(ctx context.Context, conv corralv1.Conversation, v persona.Version, pol policy, turns []persona.Message, requestID string) (generated, error) {
	maxTok := r.cfg.MaxReplyTokens
	if g := v.Spec.Generation.MaxReplyTokens; g > 0 && g < maxTok {
		maxTok = g
	}
	budget := 0
	if n := r.contextLength(ctx); n > maxTok {
		budget = n - maxTok
	}
	count, perMessage, fixed := r.counter(ctx, v, turns)
	if budget > fixed {
		budget -= fixed
	}
	for try := 0; ; try++ {
		prompt, err := persona.Assemble(v.Spec, turns, persona.PromptOptions{Count: count, Budget: budget, PerMessage: perMessage})
		if err != nil {
			return generated{}, natsbus.Permanent(fmt.Errorf("assemble prompt: %w", err))
		}
		id := requestID + "#" + strconv.FormatInt(r.now().UnixNano(), 36) + "." + strconv.Itoa(try)
		out, err := r.stream(ctx, conv, v, pol, prompt, maxTok, id)
		if errors.Is(err, inferclient.ErrPromptTooLong) && try < promptRetries {
			budget = prompt.Tokens / 2
			continue
		}
		return out, err
	}
}

// counter returns how to count tokens for prompts of persona v over turns:
// the inference service's counts of every text an unbounded prompt holds,
// the template's tokens per message and those it adds once (BOS),
// measured on that prompt; the estimate when the service cannot count.
func (r *Role) counter(ctx context.Context, v persona.Version, turns []persona.Message) (count func(string) int, perMessage, fixed int) {
	texts, full, err := promptTexts(v.Spec, turns)
	if err != nil {
		return approxTokens, perMessageTokens, 0 // Assemble reports it
	}
	cctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	res, err := r.infer.Count(cctx, &corralv1.CountRequest{Model: v.Spec.Generation.Model, Texts: texts, Chat: full.Proto()})
	if err != nil {
		r.log.DebugContext(ctx, "chat: the inference service did not count the prompt; estimating", "err", err)
		return approxTokens, perMessageTokens, 0
	}
	count, perMessage, fixed, ok := exactCounter(texts, full, res)
	if !ok {
		return approxTokens, perMessageTokens, 0
	}
	return count, perMessage, fixed
}

// promptTexts returns the texts an unbounded prompt of s over turns
// counts (each once) and that prompt.
func promptTexts(s persona.Spec, turns []persona.Message) ([]string, persona.Prompt, error) {
	var texts []string
	seen := map[string]bool{}
	full, err := persona.Assemble(s, turns, persona.PromptOptions{PerMessage: perMessageTokens, Count: func(t string) int {
		if !seen[t] {
			seen[t] = true
			texts = append(texts, t)
		}
		return approxTokens(t)
	}})
	return texts, full, err
}

// exactCounter turns the service's answer for texts and the unbounded
// prompt full into a count function (the estimate for a text it was not
// asked), the template's tokens per message and the tokens it adds once:
// what the rendered prompt takes beyond its messages' texts, spread over
// them, the remainder (BOS, a system header) counted once plus a token of
// slack per countSlack messages, for texts that tokenize a little
// differently inside the template than alone.
func exactCounter(texts []string, full persona.Prompt, res *corralv1.CountResponse) (count func(string) int, perMessage, fixed int, ok bool) {
	if len(res.GetTextTokens()) != len(texts) {
		return nil, 0, 0, false
	}
	counts := make(map[string]int, len(texts))
	for i, t := range texts {
		counts[t] = int(res.GetTextTokens()[i])
	}
	count = func(t string) int {
		if n, ok := counts[t]; ok {
			return n
		}
		return approxTokens(t)
	}
	sum := 0
	for _, m := range full.Messages {
		sum += count(m.Content)
	}
	n := len(full.Messages)
	if extra := int(res.GetChatTokens()) - sum; n > 0 && extra > 0 {
		perMessage, fixed = extra/n, extra%n
	}
	return count, perMessage, fixed + (n+countSlack-1)/countSlack, true
}

// stream runs one generation, screening the reply at sentence ends.
func (r *Role) stream(ctx context.Context, conv corralv1.Conversation, v persona.Version, pol policy, prompt persona.Prompt, maxTok int, requestID string) (generated, error) {
	gctx, cancel := context.WithTimeout(ctx, r.cfg.GenerateTimeout)
	defer cancel()
	g := v.Spec.Generation
	sampling := &corralv1.SamplingOptions{Temperature: proto.Float32(float32(g.Temperature)), MaxTokens: proto.Int32(int32(maxTok))}
	if g.TopP > 0 && g.TopP < 1 {
		sampling.TopP = proto.Float32(float32(g.TopP))
	}
	req := &corralv1.GenerateRequest{
		RequestId:       requestID,
		Model:           g.Model,
		Input:           &corralv1.GenerateRequest_Chat{Chat: prompt.Proto()},
		Sampling:        sampling,
		Priority:        corralv1.Priority_PRIORITY_LIVE,
		ConversationKey: conv.Key(),
	}
	platform := corralv1.PlatformToken(conv.Platform)
	began := r.now()
	s, err := r.infer.Generate(gctx, req)
	if err != nil {
		return generated{}, inferError(ctx, err)
	}
	defer s.Close()
	screen := r.safety.ReplyScreen(pol.p)
	var (
		b    strings.Builder
		used store.PromptUse
	)
	for first := true; ; {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return generated{}, inferError(ctx, err)
		}
		if ev.GetText() != "" && first {
			first = false
			r.metrics.seconds(ctx, r.metrics.firstToken, platform, r.now().Sub(began))
		}
		if u := ev.GetUsage(); u != nil {
			used = store.PromptUse{Tokens: int64(u.GetPromptTokens()), Cached: int64(u.GetCachedPromptTokens())}
		}
		b.WriteString(ev.GetText())
		if ev.GetFinishReason() == corralv1.FinishReason_FINISH_REASON_SAFETY {
			return refusal(pol, used), nil
		}
		if strings.ContainsAny(ev.GetText(), ".!?\n") {
			if blocked, _ := screen.Screen(b.String()); blocked {
				return refusal(pol, used), nil // Close cancels the generation
			}
		}
	}
	r.metrics.seconds(ctx, r.metrics.generation, platform, r.now().Sub(began))
	text := strings.TrimSpace(b.String())
	if blocked, _ := screen.Screen(text); blocked {
		return refusal(pol, used), nil
	}
	if text == "" {
		return generated{text: noReplyText, stored: noReplyText, prompt: used}, nil
	}
	vd := r.safety.Check(text, safety.Assistant, pol.p)
	out := generated{text: text, stored: vd.Redacted, verdict: vd.Proto(safety.Assistant), prompt: used}
	switch {
	case vd.Action == safety.ActionRefuse:
		out = refusal(pol, used)
		out.verdict = vd.Proto(safety.Assistant)
	case vd.Action == safety.ActionRedact && pol.p.RedactForUser:
		out.text = vd.Redacted
	}
	return out, nil
}

func refusal(pol policy, used store.PromptUse) generated {
	return generated{text: pol.refusal, stored: pol.refusal, refused: true, prompt: used}
}

// inferError says what to do after a failed generation: start again with
// the newer messages (superseded), try again later, or give up.
func inferError(ctx context.Context, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), errSuperseded):
		return errSuperseded
	case errors.Is(err, inferclient.ErrInvalidRequest), errors.Is(err, inferclient.ErrModelNotFound),
		errors.Is(err, inferclient.ErrUnsupported):
		return natsbus.Permanent(fmt.Errorf("generate: %w", err))
	case inferclient.RetryAfter(err, 0) > 0:
		return natsbus.RetryAfter(fmt.Errorf("generate: %w", err), inferclient.RetryAfter(err, 0))
	}
	// Overloaded, unavailable, stalled, no service, timed out, superseded
	// by another replica, internal: worth another try later.
	return fmt.Errorf("generate: %w", err)
}

// contextLength returns the default model's context window, asked of the
// inference service at most every modelInfoTTL; 0 when unknown.
func (r *Role) contextLength(ctx context.Context) int {
	r.modelMu.Lock()
	n, at := r.ctxLen, r.ctxLenAt
	r.modelMu.Unlock()
	if !at.IsZero() && r.now().Sub(at) < modelInfoTTL {
		return n
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ms, err := r.infer.Models(qctx)
	if err != nil || len(ms.GetModels()) == 0 {
		return n
	}
	n = int(ms.GetModels()[0].GetContextLength())
	r.modelMu.Lock()
	r.ctxLen, r.ctxLenAt = n, r.now()
	r.modelMu.Unlock()
	return n
}
