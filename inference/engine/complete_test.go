package engine_test

import (
	"context"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
)

// TestComplete: Complete is greedy generation after raw text whose control
// tokens are parsed, so it answers what Submit answers for the same
// request, and a cancelled context or a bad limit is an error.
func TestComplete(t *testing.T) {
	b := load(t, storiesPath(t), engine.LoadOptions{})
	e := newEngine(t, b, engine.Options{})
	const prompt = "Once upon a time"
	want := run(t, e, engine.Request{
		Input:    engine.Input{Text: prompt, ParseSpecial: true},
		Sampling: sample.Options{Temperature: 0, MaxTokens: 12},
	})
	got, err := e.Complete(t.Context(), prompt, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got != want.Text || got == "" {
		t.Fatalf("Complete = %q, want %q", got, want.Text)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.Complete(ctx, prompt, 12); err == nil {
		t.Error("Complete with a cancelled context: no error")
	}
	if _, err := e.Complete(t.Context(), prompt, 0); err == nil {
		t.Error("Complete with maxTokens 0: no error")
	}
}
