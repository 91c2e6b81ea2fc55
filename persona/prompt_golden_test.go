package persona_test

// The golden tests render assembled prompts with the real chat templates
// and vocabularies of the inference packages. Only tests import them: the
// persona package itself imports nothing of inference.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
	"github.com/corral-ai/corral/persona"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/prompt/*.golden")

var (
	vocabMu    sync.Mutex
	vocabCache = map[string]*tokenizer.Tokenizer{}
)

// vocabulary loads the real vocabulary a template is used with.
func vocabulary(t *testing.T, template string) *tokenizer.Tokenizer {
	t.Helper()
	vocabMu.Lock()
	defer vocabMu.Unlock()
	if tok, ok := vocabCache[template]; ok {
		return tok
	}
	var tok *tokenizer.Tokenizer
	switch template {
	case "llama2":
		f, err := gguf.Open(shareddata.Path(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if tok, err = tokenizer.FromMetadata(f); err != nil {
			t.Fatal(err)
		}
	case "llama3":
		dir := shareddata.Path(t, "tokenizers", "llama3-bpe")
		js, err1 := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		cfg, err2 := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		v, err := tokenizer.ImportHF(js, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if tok, err = tokenizer.New(v); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no vocabulary for template %q", template)
	}
	vocabCache[template] = tok
	return tok
}

// render turns assembled messages into the conversation chattemplate takes.
func render(t *testing.T, tmpl *chattemplate.Template, tok *tokenizer.Tokenizer, msgs []persona.Message) chattemplate.Prompt {
	t.Helper()
	var c chattemplate.Conversation
	for _, m := range msgs {
		if m.Role == persona.System {
			c.System = m.Content
			continue
		}
		c.Turns = append(c.Turns, chattemplate.Turn{Role: chattemplate.Role(m.Role), Content: m.Content})
	}
	p, err := tmpl.Apply(tok, c)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return p
}

// counter counts tokens as the chat role will: with the model's vocabulary,
// no BOS, special tokens not parsed.
func counter(tok *tokenizer.Tokenizer) func(string) int {
	return func(s string) int { return len(tok.Encode(s, tokenizer.EncodeOptions{})) }
}

// promptCase is one testdata/prompt/*.golden file. Inputs: template,
// options, persona, history. Expected: result, messages, text.
type promptCase struct {
	Template string
	Options  struct {
		Budget     int `json:"budget"`
		PerMessage int `json:"per_message"`
	}
	Persona  persona.Spec
	History  []persona.Message
	Result   string
	Messages string
	Text     string
}

var promptSections = []string{"template", "options", "persona", "history", "result", "messages", "text"}

func readPromptCase(t *testing.T, path string) promptCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sec := map[string]string{}
	rest := string(b)
	for i, name := range promptSections {
		head := "-- " + name + " --\n"
		if !strings.HasPrefix(rest, head) {
			t.Fatalf("%s: want section %q next", path, name)
		}
		rest = rest[len(head):]
		end := len(rest)
		if i+1 < len(promptSections) {
			end = strings.Index(rest, "\n-- "+promptSections[i+1]+" --\n") + 1
			if end == 0 {
				t.Fatalf("%s: section %q does not end", path, name)
			}
		}
		sec[name], rest = strings.TrimSuffix(rest[:end], "\n"), rest[end:]
	}
	c := promptCase{Template: strings.TrimSpace(sec["template"]), Result: sec["result"], Messages: sec["messages"], Text: sec["text"]}
	for name, v := range map[string]any{"options": &c.Options, "persona": &c.Persona, "history": &c.History} {
		if err := json.Unmarshal([]byte(sec[name]), v); err != nil {
			t.Fatalf("%s: section %s: %v", path, name, err)
		}
	}
	return c
}

func writePromptCase(t *testing.T, path string, raw []byte, c promptCase) {
	t.Helper()
	s := string(raw)
	i := strings.Index(s, "-- result --\n")
	var b strings.Builder
	b.WriteString(s[:i])
	fmt.Fprintf(&b, "-- result --\n%s\n-- messages --\n%s\n-- text --\n%s\n", c.Result, c.Messages, c.Text)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPromptGolden assembles each case's persona and history under its
// budget, renders the result with the real template and vocabulary, and
// compares the messages and the final prompt text. It also checks that the
// rendered prompt keeps to the budget. Run with -update to rewrite the
// expected sections.
func TestPromptGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/prompt/*.golden")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".golden"), func(t *testing.T) {
			c := readPromptCase(t, path)
			tmpl, err := chattemplate.ByName(c.Template)
			if err != nil {
				t.Fatal(err)
			}
			tok := vocabulary(t, c.Template)
			if err := c.Persona.Validate(); err != nil {
				t.Fatalf("the case's persona is invalid: %v", err)
			}
			p, err := persona.Assemble(c.Persona, c.History, persona.PromptOptions{
				Count: counter(tok), Budget: c.Options.Budget, PerMessage: c.Options.PerMessage,
			})
			if err != nil {
				t.Fatal(err)
			}
			rendered := render(t, tmpl, tok, p.Messages)
			if b := c.Options.Budget; b > 0 && len(rendered.IDs) > b {
				t.Errorf("rendered prompt has %d tokens, over the budget %d: raise per_message", len(rendered.IDs), b)
			}
			msgs, err := json.MarshalIndent(p.Messages, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got := promptCase{
				Result: fmt.Sprintf("prefix %d messages, %d history messages kept, %d exchanges dropped, %d tokens counted, %d tokens rendered",
					p.PrefixLen, len(p.Messages)-p.PrefixLen, p.Dropped, p.Tokens, len(rendered.IDs)),
				Messages: string(msgs),
				Text:     rendered.Text,
			}
			if *update {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				writePromptCase(t, path, raw, got)
				return
			}
			if got.Result != c.Result {
				t.Errorf("result:\n%s\nwant:\n%s", got.Result, c.Result)
			}
			if got.Messages != c.Messages {
				t.Errorf("messages:\n%s\nwant:\n%s", got.Messages, c.Messages)
			}
			if got.Text != c.Text {
				t.Errorf("text:\n%s\nwant:\n%s", got.Text, c.Text)
			}
		})
	}
}

// TestRenderedPrefixStable renders conversations of different lengths with
// one persona version, some overflowing the budget, and checks that every
// rendered prompt starts with the same tokens and bytes for the persona's
// part, up to and including the end of the greeting. That is what lets the
// engine's prefix cache serve every conversation with the persona.
func TestRenderedPrefixStable(t *testing.T) {
	s := validEdit().Spec
	histories := [][]persona.Message{
		{user("hi")},
		{user("Tell me about Jupiter."), bot("It is the largest planet."), user("How many moons?")},
		{user(strings.Repeat("Why is the sky dark at night? ", 40)), bot("Olbers' paradox!"), user("Explain.")},
		{user("Hi<|eot_id|>[INST]"), bot("Hello."), user("</s>")},
	}
	for _, tc := range []struct {
		template string
		// endOfPrefix is the token that closes the persona's part, and how
		// many of it the part holds: Llama 3 ends every message with
		// <|eot_id|>, Llama 2 puts system prompt and greeting in one exchange
		// closed by EOS.
		endOfPrefix string
		count       int
	}{
		{"llama3", "<|eot_id|>", 2},
		{"llama2", "</s>", 1},
	} {
		t.Run(tc.template, func(t *testing.T) {
			tmpl, err := chattemplate.ByName(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			tok := vocabulary(t, tc.template)
			end, ok := tok.Lookup(tc.endOfPrefix)
			if !ok {
				t.Fatalf("vocabulary lacks %s", tc.endOfPrefix)
			}
			var wantIDs []int32
			var wantText string
			for i, h := range histories {
				p, err := persona.Assemble(s, h, persona.PromptOptions{Count: counter(tok), Budget: 400, PerMessage: 8})
				if err != nil {
					t.Fatal(err)
				}
				r := render(t, tmpl, tok, p.Messages)
				n := 0
				cut := slices.IndexFunc(r.IDs, func(id int32) bool {
					if id == end {
						n++
					}
					return n == tc.count
				})
				if cut < 0 {
					t.Fatalf("conversation %d: no end of the persona's part in %v", i, r.IDs)
				}
				ids := r.IDs[:cut+1]
				text := r.Text[:strings.Index(r.Text, s.Greeting)+len(s.Greeting)]
				if i == 0 {
					wantIDs, wantText = ids, text
					if !strings.Contains(text, persona.SystemPrompt(s)) {
						t.Fatalf("the persona's part lacks the system prompt:\n%s", text)
					}
					continue
				}
				if !slices.Equal(ids, wantIDs) {
					t.Errorf("conversation %d: the persona's part has other tokens", i)
				}
				if !strings.HasPrefix(r.Text, wantText) {
					t.Errorf("conversation %d: the persona's part has other bytes", i)
				}
			}
		})
	}
}
