package studio

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
)

// preview streams the draft's reply to a conversation: a "delta" event per
// piece of text as the engine makes it, then the answer with the finish
// reason and token counts. It runs at the engine's studio-preview priority
// and ends when it finishes, is cancelled (preview.cancel, even one read
// before this goroutine started) or the connection closes; the engine's
// sequence is cancelled with it. slot is its place, taken by the reader.
func (c *conn) preview(ctx context.Context, actor string, req request, slot *previewSlot) (any, *wireError) {
	if slot.refused != nil {
		return nil, slot.refused
	}
	if err := needPersona(req); err != nil {
		return nil, asWire(err)
	}
	history, werr := previewHistory(req.Messages)
	if werr != nil {
		return nil, werr
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(slot.stop, cancel)()
	// cancelled: preview.cancel or the connection's end stopped it (the
	// latter's answer is dropped); not a failure either way.
	cancelled := func() bool {
		if pctx.Err() == nil {
			return false
		}
		c.r.metrics.preview(ctx, "cancelled")
		return true
	}
	stopped := map[string]any{"finish_reason": "cancelled"}

	sctx, scancel := context.WithTimeout(pctx, opTimeout)
	p, err := c.r.store.Get(sctx, actor, req.PersonaID)
	scancel()
	if err != nil {
		if cancelled() {
			return stopped, nil
		}
		return nil, asWire(err)
	}
	prompt, err := persona.Assemble(p.Draft, history, persona.PromptOptions{Count: roughTokens})
	if err != nil {
		return nil, newError(codeBadRequest, "%v", err)
	}
	began := time.Now()
	greq := &corralv1.GenerateRequest{
		RequestId: "studio-" + c.id + "-" + req.ID,
		Model:     p.Draft.Generation.Model,
		Input:     &corralv1.GenerateRequest_Chat{Chat: prompt.Proto()},
		Sampling:  p.Draft.Generation.Sampling(),
		Priority:  corralv1.Priority_PRIORITY_PREVIEW,
	}
	stream, err := c.r.infer.Generate(pctx, greq)
	if err != nil {
		if cancelled() {
			return stopped, nil
		}
		c.r.metrics.preview(ctx, "failed")
		return nil, inferError(err)
	}
	defer stream.Close()
	first := true
	for {
		ev, err := stream.Recv()
		if ev != nil && ev.GetText() != "" {
			if first {
				first = false
				c.r.metrics.firstToken.Record(ctx, time.Since(began).Seconds())
			}
			c.sendEvent(event{ID: req.ID, Event: "delta", Data: map[string]string{"text": ev.GetText()}})
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil, newError(codeInternal, "preview stream ended without a final event")
		case err != nil && cancelled():
			return stopped, nil
		case err != nil:
			c.r.metrics.preview(ctx, "failed")
			return nil, inferError(err)
		}
		if fr := ev.GetFinishReason(); fr != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
			u := ev.GetUsage()
			c.r.hits.add(req.PersonaID, u.GetPromptTokens(), u.GetCachedPromptTokens())
			c.r.metrics.preview(ctx, "finished")
			return map[string]any{
				"finish_reason": finishName(fr),
				"model":         ev.GetModel(),
				"usage": map[string]int32{
					"prompt_tokens":        u.GetPromptTokens(),
					"completion_tokens":    u.GetCompletionTokens(),
					"cached_prompt_tokens": u.GetCachedPromptTokens(),
				},
				"first_token_ms": ev.GetTimings().GetFirstToken().AsDuration().Milliseconds(),
			}, nil
		}
	}
}

// previewHistory checks a preview conversation: user and assistant turns,
// ending with the user's.
func previewHistory(msgs []chatMessage) ([]persona.Message, *wireError) {
	if len(msgs) == 0 {
		return nil, newError(codeBadRequest, `"messages" is required and must end with the user's message`)
	}
	if len(msgs) > maxPreviewMessages {
		return nil, newError(codeBadRequest, "at most %d messages, not %d", maxPreviewMessages, len(msgs))
	}
	out := make([]persona.Message, 0, len(msgs))
	for i, m := range msgs {
		var r persona.Role
		switch m.Role {
		case "user":
			r = persona.User
		case "assistant":
			r = persona.Assistant
		default:
			return nil, newError(codeBadRequest, `messages[%d].role: want "user" or "assistant", not %q`, i, m.Role)
		}
		if n := utf8.RuneCountInString(m.Content); n > maxPreviewChars {
			return nil, newError(codeBadRequest, "messages[%d].content: at most %d characters, not %d", i, maxPreviewChars, n)
		}
		if strings.TrimSpace(m.Content) == "" {
			return nil, newError(codeBadRequest, "messages[%d].content: must not be empty", i)
		}
		out = append(out, persona.Message{Role: r, Content: m.Content})
	}
	if out[len(out)-1].Role != persona.User {
		return nil, newError(codeBadRequest, "the last message must be the user's")
	}
	return out, nil
}

// roughTokens over-counts a text's tokens without the model's vocabulary;
// with no budget it only sizes the prompt, and the service refuses a
// prompt that does not fit (prompt_too_long).
func roughTokens(s string) int { return len(s)/3 + 1 }

// previewSlot is a preview's place among the connection's running
// previews, taken by the reader when it reads the preview's frame.
type previewSlot struct {
	id string
	// stop ends on preview.cancel and when the connection closes.
	stop   context.Context
	cancel context.CancelFunc
	// refused says why the preview may not run (duplicate_id, limit);
	// such a slot holds no place.
	refused *wireError
}

// startPreview takes a place for the preview with this id, or a refused
// slot when the id is running already or the connection runs
// MaxPreviews.
func (c *conn) startPreview(id string) *previewSlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.previews[id]; ok {
		return &previewSlot{id: id, refused: newError(codeDuplicateID, "a preview with id %q is still running", id)}
	}
	if len(c.previews) >= c.r.cfg.MaxPreviews {
		return &previewSlot{id: id, refused: newError(codeLimit, "at most %d previews at once on one connection", c.r.cfg.MaxPreviews)}
	}
	p := &previewSlot{id: id}
	p.stop, p.cancel = context.WithCancel(c.ctx)
	c.previews[id] = p
	return p
}

// endPreview gives back a preview's place; nil and refused slots hold none.
func (c *conn) endPreview(p *previewSlot) {
	if p == nil || p.refused != nil {
		return
	}
	c.mu.Lock()
	if c.previews[p.id] == p {
		delete(c.previews, p.id)
	}
	c.mu.Unlock()
	p.cancel()
}

// cancelPreview cancels a running preview, reporting whether one ran.
func (c *conn) cancelPreview(id string) bool {
	c.mu.Lock()
	p, ok := c.previews[id]
	c.mu.Unlock()
	if ok {
		p.cancel()
	}
	return ok
}

// inferError maps the inference client's errors onto the protocol.
func inferError(err error) *wireError {
	switch {
	case errors.Is(err, inferclient.ErrPromptTooLong):
		return newError(codePromptTooLong, "the conversation does not fit the model's context; start a new one")
	case errors.Is(err, inferclient.ErrModelNotFound):
		return &wireError{Code: codeInvalid, Message: "the model is not served",
			Fields: []wireFieldError{{Field: "generation.model", Reason: "is not a model the inference service serves"}}}
	case errors.Is(err, inferclient.ErrInvalidRequest):
		return newError(codeBadRequest, "the inference service refused the request: %v", err)
	case inferclient.Retryable(err):
		return &wireError{Code: codeUnavailable, Message: "the inference service cannot take it now: " + err.Error(),
			RetryAfterMS: inferclient.RetryAfter(err, time.Second).Milliseconds()}
	}
	return newError(codeInternal, "preview: %v", err)
}

func finishName(fr corralv1.FinishReason) string {
	return strings.ToLower(strings.TrimPrefix(fr.String(), "FINISH_REASON_"))
}

// previewHits counts, per persona, the prompt tokens of previews and how
// many of them the engine's prefix cache served, in this process.
type previewHits struct {
	mu        sync.Mutex
	byPersona map[string]*hitCount
}

type hitCount struct {
	Previews     int64   `json:"previews"`
	PromptTokens int64   `json:"prompt_tokens"`
	CachedTokens int64   `json:"cached_prompt_tokens"`
	HitRatio     float64 `json:"hit_ratio"`
}

// prefixHits is a prefix-cache hit rate over prompt tokens.
type prefixHits struct {
	PromptTokens int64   `json:"prompt_tokens"`
	CachedTokens int64   `json:"cached_prompt_tokens"`
	HitRatio     float64 `json:"hit_ratio"`
}

func hitsOf(prompt, cached int64) prefixHits {
	h := prefixHits{PromptTokens: prompt, CachedTokens: cached}
	if prompt > 0 {
		h.HitRatio = float64(cached) / float64(prompt)
	}
	return h
}

// maxTracked bounds the personas previewHits remembers.
const maxTracked = 10000

func (h *previewHits) add(id string, prompt, cached int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc := h.byPersona[id]
	if hc == nil {
		if len(h.byPersona) >= maxTracked {
			clear(h.byPersona)
		}
		hc = &hitCount{}
		h.byPersona[id] = hc
	}
	hc.Previews++
	hc.PromptTokens += int64(prompt)
	hc.CachedTokens += int64(cached)
}

func (h *previewHits) get(id string) hitCount {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc := h.byPersona[id]
	if hc == nil {
		return hitCount{}
	}
	out := *hc
	if out.PromptTokens > 0 {
		out.HitRatio = float64(out.CachedTokens) / float64(out.PromptTokens)
	}
	return out
}
