package safety

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Completer completes a prompt with a language model: the text the model
// generates after prompt, at most maxTokens tokens, stopping at its end of
// turn. The prompt is raw text with the model's chat markers written out;
// the completer adds the BOS token and must recognise those markers as
// special tokens. The inference service implements it with the engine.
type Completer interface {
	Complete(ctx context.Context, prompt string, maxTokens int) (string, error)
}

// Guard asks a Llama Guard 3 model whether a text is safe.
type Guard struct {
	model Completer
}

// NewGuard returns a Guard that asks model, which should be a Llama Guard 3
// GGUF served by our engine.
func NewGuard(model Completer) *Guard { return &Guard{model: model} }

// guardMaxTokens is enough for "unsafe\nS1,S2,…".
const guardMaxTokens = 20

// Classify asks the guard model about text written by role.
func (g *Guard) Classify(ctx context.Context, text string, role Role) (unsafe bool, cats []Category, err error) {
	answer, err := g.model.Complete(ctx, GuardPrompt(text, role), guardMaxTokens)
	if err != nil {
		return false, nil, fmt.Errorf("complete guard prompt: %w", err)
	}
	return ParseGuardAnswer(answer)
}

// guardCategories are the Llama Guard 3 category lines, in code order.
var guardCategories = []string{
	"Violent Crimes", "Non-Violent Crimes", "Sex Crimes", "Child Exploitation",
	"Defamation", "Specialized Advice", "Privacy", "Intellectual Property",
	"Indiscriminate Weapons", "Hate", "Self-Harm", "Sexual Content", "Elections",
	"Code Interpreter Abuse",
}

// GuardPrompt builds the Llama Guard 3 prompt that asks about text: the
// model's task line, its 14 categories, the conversation (one turn, "User"
// or "Agent"), and the answer instructions, inside Llama 3 chat markers
// and ending where the assistant's answer begins. BOS is not included.
func GuardPrompt(text string, role Role) string {
	who := "User"
	if role == Assistant {
		who = "Agent"
	}
	var b strings.Builder
	b.WriteString("<|start_header_id|>user<|end_header_id|>\n\n")
	fmt.Fprintf(&b, "Task: Check if there is unsafe content in '%s' messages in conversations according our safety policy with the below categories.\n\n", who)
	b.WriteString("<BEGIN UNSAFE CONTENT CATEGORIES>\n")
	for i, name := range guardCategories {
		fmt.Fprintf(&b, "S%d: %s.\n", i+1, name)
	}
	b.WriteString("<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\n")
	fmt.Fprintf(&b, "%s: %s\n\n", who, strings.TrimSpace(text))
	b.WriteString("<END CONVERSATION>\n\n")
	fmt.Fprintf(&b, "Provide your safety assessment for ONLY THE LAST %s message in the above conversation:\n", who)
	b.WriteString(" - First line must read 'safe' or 'unsafe'.\n")
	b.WriteString(" - If unsafe, a second line must include a comma-separated list of violated categories.")
	b.WriteString("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
	return b.String()
}

// ParseGuardAnswer reads a Llama Guard 3 answer: "safe", or "unsafe" and
// on the next line comma-separated codes ("S1,S10"). Surrounding space and
// a trailing end-of-turn marker are ignored; an unsafe answer without
// codes is unsafe with no category. Anything else is ErrBadGuardAnswer.
func ParseGuardAnswer(answer string) (unsafe bool, cats []Category, err error) {
	answer = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(answer), "<|eot_id|>"))
	first, rest, _ := strings.Cut(answer, "\n")
	switch strings.TrimSpace(first) {
	case "safe":
		if strings.TrimSpace(rest) != "" {
			return false, nil, fmt.Errorf("%w: text after safe", ErrBadGuardAnswer)
		}
		return false, nil, nil
	case "unsafe":
	default:
		return false, nil, fmt.Errorf("%w: first line is not safe or unsafe", ErrBadGuardAnswer)
	}
	codes := strings.TrimSpace(rest)
	if codes == "" {
		return true, nil, nil
	}
	for code := range strings.SplitSeq(codes, ",") {
		c, ok := ParseCategory(strings.TrimSpace(code))
		if !ok || c.LlamaGuardCode() == "" {
			return false, nil, fmt.Errorf("%w: category code %q", ErrBadGuardAnswer, strings.TrimSpace(code))
		}
		if !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
	}
	return true, cats, nil
}
