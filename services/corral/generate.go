package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// prefillChunk bounds how many prompt tokens go into one forward pass, which
// bounds the pass's scratch memory.
const prefillChunk = 512

// runGenerate implements `corral generate`.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "GGUF model file (required)")
	prompt := fs.String("prompt", "", "prompt text, tokenized with the model's vocabulary")
	promptIDs := fs.String("prompt-ids", "", "prompt as comma-separated token ids, used as given (no BOS added)")
	chat := fs.Bool("chat", false, "wrap --prompt as a user turn in the model's chat template")
	chatTemplate := fs.String("chat-template", "", "with --chat: use this format ("+strings.Join(chattemplate.Names(), ", ")+") instead of the one the model's template is recognised as")
	n := fs.Int("n", 128, "how many tokens to generate")
	temp := fs.Float64("temp", 0.8, "sampling temperature; 0 is greedy (the most likely token)")
	topP := fs.Float64("top-p", 0.95, "nucleus sampling: keep the most likely tokens up to this probability mass")
	seed := fs.Uint64("seed", 0, "random seed (default: a random one, printed on stderr)")
	ids := fs.Bool("ids", false, "print the generated token ids on one line instead of text")
	threads := fs.Int("threads", 0, "worker threads (default: GOMAXPROCS)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: corral generate --model FILE [--prompt TEXT | --prompt-ids 1,2,3] [--chat] [-n N] [--temp T] [--top-p P] [--seed S] [--ids] [--threads K]")
		fmt.Fprintln(stderr, "Prints the continuation of the prompt, and a timing line on stderr.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	switch {
	case fs.NArg() != 0:
		return usageError{fmt.Sprintf("generate takes no arguments, got %q", fs.Args())}
	case *modelPath == "":
		return usageError{"generate needs --model FILE"}
	case *prompt != "" && *promptIDs != "":
		return usageError{"give --prompt or --prompt-ids, not both"}
	case *chatTemplate != "" && !*chat:
		return usageError{"--chat-template needs --chat"}
	case *chat && *promptIDs != "":
		return usageError{"--chat needs --prompt text"}
	case *n < 0:
		return usageError{fmt.Sprintf("-n %d must be >= 0", *n)}
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		*seed = rand.Uint64()
	}

	m, err := model.Open(*modelPath, model.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.FromMetadata(m.File())
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	input, stops, err := promptTokens(tok, *prompt, *promptIDs, *chat, *chatTemplate)
	if err != nil {
		return err
	}
	s, err := sample.New(sample.Options{
		Temperature: float32(*temp), TopP: float32(*topP), Seed: *seed,
		MaxTokens: *n, StopTokens: stops,
	})
	if err != nil {
		return usageError{err.Error()}
	}

	out := &tokenWriter{w: stdout, ids: *ids, dec: tok.NewStreamDecoder(tokenizer.DecodeOptions{Continuation: true})}
	st, err := generate(ctx, m, input, *n, s, out.token)
	if err != nil {
		return err
	}
	if err := out.finish(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "prompt: %d tokens in %s (%.1f tok/s); generated: %d tokens in %s (%.1f tok/s); seed %d\n",
		st.promptTokens, st.promptTime.Round(time.Millisecond), rate(st.promptTokens, st.promptTime),
		st.genTokens, st.genTime.Round(time.Millisecond), rate(st.genTokens, st.genTime), *seed)
	return nil
}

// promptTokens turns the prompt flags into token ids, and says which
// tokens end the generation.
func promptTokens(tok *tokenizer.Tokenizer, text, idList string, chat bool, template string) ([]int32, []int32, error) {
	stops := tok.EOG()
	switch {
	case idList != "":
		var ids []int32
		for _, f := range strings.Split(idList, ",") {
			v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || v < 0 || int(v) >= tok.Len() {
				return nil, nil, usageError{fmt.Sprintf("--prompt-ids: %q is not a token id of this model (0..%d)", f, tok.Len()-1)}
			}
			ids = append(ids, int32(v))
		}
		return ids, stops, nil
	case chat:
		t, err := chattemplate.Select(tok.ChatTemplate(), template)
		if err != nil {
			return nil, nil, fmt.Errorf("--chat: %w", err)
		}
		p, err := t.Apply(tok, chattemplate.Conversation{Turns: []chattemplate.Turn{{Role: chattemplate.User, Content: text}}})
		if err != nil {
			return nil, nil, fmt.Errorf("--chat: %w", err)
		}
		return p.IDs, append(stops, t.StopTokens(tok)...), nil
	}
	ids := tok.Encode(text, tokenizer.EncodeOptions{AddBOS: tok.AddBOS()})
	if len(ids) == 0 {
		if tok.BOS() == tokenizer.NoToken {
			return nil, nil, usageError{"the prompt is empty and the model has no BOS token to start from"}
		}
		ids = []int32{tok.BOS()}
	}
	return ids, stops, nil
}

// genStats is what generate measured.
type genStats struct {
	promptTokens, genTokens int
	promptTime, genTime     time.Duration
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// generate runs the prompt and then samples up to n tokens, calling emit
// for each. It stops early on a stop token or at the model's context
// length. The first generated token comes from the prompt's last logits,
// so n tokens take n-1 more forward passes.
func generate(ctx context.Context, m model.Model, prompt []int32, n int, s *sample.Sampler, emit func(int32) error) (genStats, error) {
	var st genStats
	st.promptTokens = len(prompt)
	total := min(len(prompt)+n, m.Config().ContextLength)
	if len(prompt) > m.Config().ContextLength {
		return st, fmt.Errorf("the prompt has %d tokens; the model's context holds %d", len(prompt), m.Config().ContextLength)
	}
	kv, err := model.NewCache(m.Config(), 1, max(total, 1))
	if err != nil {
		return st, err
	}
	if n == 0 {
		return st, nil
	}
	start := time.Now()
	var logits []float32
	for lo := 0; lo < len(prompt); lo += prefillChunk {
		hi := min(lo+prefillChunk, len(prompt))
		batch := make([]model.Entry, 0, hi-lo)
		for i := lo; i < hi; i++ {
			batch = append(batch, model.Entry{Pos: i, Token: prompt[i], Logits: i == len(prompt)-1})
		}
		if logits, err = m.Forward(ctx, batch, kv); err != nil {
			return st, err
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	st.promptTime = time.Since(start)
	start = time.Now()
	for pos := len(prompt); ; pos++ {
		id, reason := s.Next(logits)
		if reason == sample.StopToken {
			break
		}
		st.genTokens++
		if err := emit(id); err != nil {
			return st, err
		}
		if reason != sample.NotStopped || pos >= total {
			break
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if logits, err = m.Forward(ctx, []model.Entry{{Pos: pos, Token: id, Logits: true}}, kv); err != nil {
			return st, err
		}
	}
	st.genTime = time.Since(start)
	return st, nil
}

// tokenWriter prints generated tokens as text as they come, or collects
// their ids for one line at the end.
type tokenWriter struct {
	w     io.Writer
	ids   bool
	dec   *tokenizer.StreamDecoder
	count int
}

func (t *tokenWriter) token(id int32) error {
	var err error
	if t.ids {
		sep := " "
		if t.count == 0 {
			sep = ""
		}
		_, err = fmt.Fprintf(t.w, "%s%d", sep, id)
	} else {
		_, err = io.WriteString(t.w, t.dec.Next(id))
	}
	t.count++
	return err
}

func (t *tokenWriter) finish() error {
	var err error
	if !t.ids {
		_, err = io.WriteString(t.w, t.dec.Flush())
	}
	if err == nil {
		_, err = io.WriteString(t.w, "\n")
	}
	return err
}
