package chat

import (
	"fmt"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/tokenizer"
	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// countLike answers a CountRequest for texts and the unbounded prompt
// full with the bundle's tokenizer and chat template, as the inference
// service's count endpoint does (services/inference tests that endpoint
// against the generation's own prompt count).
func countLike(t *testing.T, b *engine.Bundle, texts []string, full persona.Prompt) *corralv1.CountResponse {
	t.Helper()
	res := &corralv1.CountResponse{ChatTokens: int32(realTokens(t, b, full))}
	for _, s := range texts {
		res.TextTokens = append(res.TextTokens, int32(len(b.Tokenizer().Encode(s, tokenizer.EncodeOptions{}))))
	}
	return res
}

// realTokens is the prompt's length as the engine renders it.
func realTokens(t *testing.T, b *engine.Bundle, p persona.Prompt) int {
	t.Helper()
	var turns []engine.Turn
	for _, m := range p.Messages {
		role := engine.User
		switch m.Role {
		case persona.System:
			role = engine.System
		case persona.Assistant:
			role = engine.Assistant
		}
		turns = append(turns, engine.Turn{Role: role, Content: m.Content})
	}
	pr, err := b.Prompt(engine.Input{Chat: turns})
	if err != nil {
		t.Fatal(err)
	}
	return len(pr.IDs)
}

// TestExactCounterBoundsHistory assembles prompts of a long conversation
// under several budgets with the counts the count endpoint gives: the
// rendered prompt never exceeds the budget, stays close to it (nothing
// dropped that fitted), and keeps more history than the three-bytes
// estimate does.
func TestExactCounterBoundsHistory(t *testing.T) {
	path, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := engine.Load(path, engine.LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	spec := persona.Default().Spec
	lines := []string{
		"hello there, how are you doing today?",
		"hola, ¿qué tal? ¿me recomiendas un libro?",
		"my order number is 123456789 and it has not arrived",
		"🙂 thanks a lot!",
		"can you tell me a short story about a cat and a boat on the sea",
	}
	var history []persona.Message
	for i := range 30 {
		history = append(history, persona.Message{Role: persona.User, Content: fmt.Sprintf("%s (%d)", lines[i%len(lines)], i)})
		if i < 29 {
			history = append(history, persona.Message{Role: persona.Assistant, Content: strings.Repeat("Sure, here it is. ", 1+i%4)})
		}
	}
	texts, full, err := promptTexts(spec, history)
	if err != nil {
		t.Fatal(err)
	}
	count, perMessage, fixed, ok := exactCounter(texts, full, countLike(t, b, texts, full))
	if !ok || perMessage <= 0 || fixed <= 0 {
		t.Fatalf("exactCounter ok=%v, %d tokens per message, %d once", ok, perMessage, fixed)
	}
	whole := realTokens(t, b, full)
	overflowed := 0
	for _, budget := range []int{whole / 4, whole / 2, 3 * whole / 4, whole - 1, whole + 10} {
		t.Run(fmt.Sprint("budget ", budget), func(t *testing.T) {
			// As generate does: what the template adds once comes off the budget.
			p, err := persona.Assemble(spec, history, persona.PromptOptions{Count: count, Budget: budget - fixed, PerMessage: perMessage})
			if err != nil {
				t.Fatal(err)
			}
			got := realTokens(t, b, p)
			if got > budget {
				t.Fatalf("the prompt takes %d tokens (counted %d), over the budget %d", got, p.Tokens+fixed, budget)
			}
			// Nothing dropped that fitted: one more exchange (two messages)
			// would not have.
			if p.Dropped > 0 && got+2*perMessage+8 < budget-longest(history) {
				t.Fatalf("%d exchanges dropped with %d of %d tokens unused", p.Dropped, budget-got, budget)
			}
			est, err := persona.Assemble(spec, history, persona.PromptOptions{Count: approxTokens, Budget: budget, PerMessage: perMessageTokens})
			estTokens := 0
			if err == nil {
				estTokens = realTokens(t, b, est)
			}
			if estTokens > budget {
				overflowed++
			}
			t.Logf("budget %d: prompt %d tokens (counted %d), %d exchanges dropped; the 3-byte estimate: %d tokens, %d dropped",
				budget, got, p.Tokens+fixed, p.Dropped, estTokens, est.Dropped)
		})
	}
	// The demo vocabulary is small, so its tokens are short: the estimate
	// undercounts and overflows where the real count fits.
	if overflowed == 0 {
		t.Error("the 3-byte estimate fitted every budget: this conversation does not tell the counts apart")
	}
}

// longest is the most tokens one exchange of history may take with the
// demo tokenizer, bounded by its bytes (at most a token per byte).
func longest(history []persona.Message) int {
	n := 0
	for i := 0; i+1 < len(history); i += 2 {
		n = max(n, len(history[i].Content)+len(history[i+1].Content))
	}
	return n
}
