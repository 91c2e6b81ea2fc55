package engine

import (
	"context"
	"fmt"

	"github.com/corral-ai/corral/inference/sample"
)

// Complete generates greedily after prompt, raw text with the model's
// control tokens written out (they are parsed as special tokens), at most
// maxTokens tokens, and returns the text. It makes an Engine the
// safety.Completer of a guard model (Llama Guard 3) served in process: a
// verdict is asked for while a user waits, so it runs at live priority.
func (e *Engine) Complete(ctx context.Context, prompt string, maxTokens int) (string, error) {
	if maxTokens <= 0 {
		return "", fmt.Errorf("complete: maxTokens %d must be positive", maxTokens)
	}
	st, err := e.Submit(ctx, Request{
		Input:    Input{Text: prompt, ParseSpecial: true},
		Sampling: sample.Options{Temperature: 0, MaxTokens: maxTokens},
		Priority: PriorityLive,
	})
	if err != nil {
		return "", fmt.Errorf("complete: %w", err)
	}
	res := st.Collect()
	switch res.Final.Finish {
	case FinishError, FinishCancelled:
		return "", fmt.Errorf("complete: %w", res.Final.Err)
	}
	return res.Text, nil
}
