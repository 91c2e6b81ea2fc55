package safety_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/shareddata"
)

// engineCompleter is a Completer over our own engine, as the inference
// service wires it: greedy decoding of the prompt, special tokens parsed.
// The guard prompt is longer than stories260K's 512-token context, so this
// test completer keeps the prompt's end (a real guard model has room).
type engineCompleter struct{ e *engine.Engine }

func (c engineCompleter) Complete(ctx context.Context, prompt string, maxTokens int) (string, error) {
	p, err := c.e.Bundle().Prompt(engine.Input{Text: prompt, ParseSpecial: true})
	if err != nil {
		return "", err
	}
	ids := p.IDs
	if keep := c.e.ContextLength() - maxTokens; len(ids) > keep {
		ids = ids[len(ids)-keep:]
	}
	st, err := c.e.Submit(ctx, engine.Request{
		Input:    engine.Input{IDs: ids},
		Sampling: sample.Options{Temperature: 0, MaxTokens: maxTokens},
	})
	if err != nil {
		return "", err
	}
	res := st.Collect()
	if res.Final.Finish == engine.FinishError || res.Final.Finish == engine.FinishCancelled {
		return "", res.Final.Err
	}
	return res.Text, nil
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
	b, err := engine.Load(out, engine.LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	c := engineCompleter{e}
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
