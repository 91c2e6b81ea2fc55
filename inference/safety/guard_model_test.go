package safety_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// modelCompleter is the smallest Completer over our own model and
// tokenizer packages: greedy decoding of one sequence. The inference
// service wires the engine in its place; this one exists to run the guard
// wiring end to end on a real model.
type modelCompleter struct {
	m   model.Model
	tok *tokenizer.Tokenizer
}

func (c *modelCompleter) Complete(ctx context.Context, prompt string, maxTokens int) (string, error) {
	ids := c.tok.Encode(prompt, tokenizer.EncodeOptions{AddBOS: true, ParseSpecial: true})
	cfg := c.m.Config()
	window := cfg.ContextLength
	if keep := window - maxTokens; len(ids) > keep {
		ids = ids[len(ids)-keep:] // a small model sees the end of the prompt
	}
	kv, err := model.NewCache(cfg, 1, window)
	if err != nil {
		return "", err
	}
	batch := make([]model.Entry, len(ids))
	for i, id := range ids {
		batch[i] = model.Entry{Pos: i, Token: id, Logits: i == len(ids)-1}
	}
	logits, err := c.m.Forward(batch, kv)
	if err != nil {
		return "", err
	}
	var out []int32
	for pos := len(ids); len(out) < maxTokens; pos++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		next := int32(0)
		for i, v := range logits {
			if v > logits[next] {
				next = int32(i)
			}
		}
		if c.tok.IsEOG(next) || next == c.tok.EOS() {
			break
		}
		out = append(out, next)
		if logits, err = c.m.Forward([]model.Entry{{Pos: pos, Token: next, Logits: true}}, kv); err != nil {
			return "", err
		}
	}
	return c.tok.DecodeWith(out, tokenizer.DecodeOptions{Continuation: true}), nil
}

// TestGuardOnSmallModel runs the guard prompt through the real stories260K
// model. That model writes children's stories, not verdicts, so the answer
// must come back as ErrBadGuardAnswer: the prompt was tokenised, the model
// generated, and the parser refused what it cannot read. A Llama Guard 3
// GGUF is too large for the test data; with one, the same wiring answers.
func TestGuardOnSmallModel(t *testing.T) {
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories260K.gguf")
	if err := llama2c.ConvertFile(bin, out, "", llama2c.Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(out, model.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.FromMetadata(m.File())
	if err != nil {
		t.Fatal(err)
	}
	c := &modelCompleter{m: m, tok: tok}
	answer, err := c.Complete(t.Context(), safety.GuardPrompt("hello there", safety.User), 8)
	if err != nil {
		t.Fatal(err)
	}
	if answer == "" {
		t.Fatal("the model generated nothing")
	}
	_, _, err = safety.NewGuard(c).Classify(t.Context(), "hello there", safety.User)
	if !errors.Is(err, safety.ErrBadGuardAnswer) {
		t.Fatalf("Classify error = %v, want ErrBadGuardAnswer for a story model's answer", err)
	}
}
