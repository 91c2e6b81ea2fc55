package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
)

// stdin is what `--prompt-file -` reads; tests replace it.
var stdin io.Reader = os.Stdin

// maxPromptFile bounds a prompt file, far above any context window.
const maxPromptFile = 16 << 20

// runGenerate implements `corral generate`, a client of inference/engine.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr, "corral generate --model FILE [--prompt TEXT | --prompt-file FILE|- | --prompt-ids 1,2,3] [--chat] [-n N] [--temp T] [--top-p P] [--seed S] [--ids] [--threads K] [--kv-type f32|f16] [--kv-memory SIZE]",
		"Prints the continuation of the prompt, and a timing line on stderr that ends with why generation stopped.")
	modelPath := fs.String("model", "", "GGUF model file (required)")
	prompt := fs.String("prompt", "", "prompt text, tokenized with the model's vocabulary")
	promptFile := fs.String("prompt-file", "", "read the prompt text from this file (- for standard input)")
	promptIDs := fs.String("prompt-ids", "", "prompt as comma-separated token ids, used as given (no BOS added)")
	chat := fs.Bool("chat", false, "wrap the prompt text as a user turn in the model's chat template")
	chatTemplate := fs.String("chat-template", "", "with --chat: use this format ("+strings.Join(chattemplate.Names(), ", ")+") instead of the one the model's template is recognised as")
	n := fs.Int("n", 128, "how many tokens to generate")
	temp := fs.Float64("temp", 0.8, "sampling temperature; 0 is greedy (the most likely token)")
	topP := fs.Float64("top-p", 0.95, "nucleus sampling: keep the most likely tokens up to this probability mass")
	seed := fs.Uint64("seed", 0, "random seed (default: a random one, printed on stderr)")
	ids := fs.Bool("ids", false, "print the generated token ids on one line instead of text")
	threads := fs.Int("threads", 0, "worker threads (default and maximum: the CPUs available)")
	// f32 by default: generate reproduces the reference outputs exactly.
	kvf := addKVFlags(fs, "f32")
	if err := fs.parse(args); err != nil {
		return err
	}
	kvType, kvMemory, err := kvf.values()
	if err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{*prompt != "", *promptFile != "", *promptIDs != ""} {
		if set {
			sources++
		}
	}
	switch {
	case *modelPath == "":
		return usageError{"generate needs --model FILE"}
	case sources > 1:
		return usageError{"give one of --prompt, --prompt-file and --prompt-ids"}
	case *chatTemplate != "" && !*chat:
		return usageError{"--chat-template needs --chat"}
	case *chat && *promptIDs != "":
		return usageError{"--chat needs prompt text (--prompt or --prompt-file)"}
	case *n < 0:
		return usageError{fmt.Sprintf("-n %d must be >= 0", *n)}
	}
	if *chatTemplate != "" {
		if _, err := chattemplate.ByName(*chatTemplate); err != nil {
			return usageError{"--chat-template: " + err.Error()}
		}
	}
	if err := checkFileArg("--model", *modelPath); err != nil {
		return err
	}
	nThreads, err := threadCount(*threads, stderr)
	if err != nil {
		return err
	}
	if *promptFile != "" {
		if *prompt, err = readPrompt(*promptFile); err != nil {
			return err
		}
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		*seed = rand.Uint64()
	}

	b, err := engine.Load(*modelPath, engine.LoadOptions{Threads: nThreads, ChatTemplate: *chatTemplate})
	if err != nil {
		return err
	}
	defer b.Close()
	in, err := promptInput(b, *prompt, *promptIDs, *chat)
	if err != nil {
		return err
	}
	req := engine.Request{Input: in, Sampling: sample.Options{
		Temperature: float32(*temp), TopP: float32(*topP), Seed: *seed, MaxTokens: *n,
	}}
	if *n == 0 {
		// Nothing to generate: check the prompt, skip the model.
		p, err := b.Prompt(in)
		if err != nil {
			return usageError{err.Error()}
		}
		if err := req.Sampling.Validate(); err != nil {
			return usageError{err.Error()}
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stderr, "prompt: %d tokens, not run; generated: 0 tokens; seed %d; finish: %s\n", len(p.IDs), *seed, engine.FinishLength.Describe())
		return nil
	}
	e, err := engine.New(b, engine.Options{KVType: kvType, KVMemory: kvMemory})
	if err != nil {
		return err
	}
	defer e.Close(context.WithoutCancel(ctx))
	s, err := e.Submit(ctx, req)
	if errors.Is(err, engine.ErrInvalidRequest) {
		return usageError{err.Error()}
	} else if err != nil {
		return err
	}
	return printReply(s, *ids, stdout, stderr)
}

// threadCount checks --threads: negative is a usage error, more than the
// CPUs available is capped with a warning (extra threads only spin, and a
// pass with hundreds of them takes minutes).
func threadCount(requested int, stderr io.Writer) (int, error) {
	n, err := engine.Threads(requested)
	if err != nil {
		return 0, usageError{fmt.Sprintf("--threads %d must be >= 0", requested)}
	}
	if requested > n {
		fmt.Fprintf(stderr, "warning: --threads %d is more than the %d CPUs available; using %d\n", requested, n, n)
	}
	return n, nil
}

// readPrompt reads a prompt file, or standard input for "-".
func readPrompt(path string) (string, error) {
	r, name := stdin, "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--prompt-file: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPromptFile+1))
	if err != nil {
		return "", fmt.Errorf("--prompt-file: read %s: %w", name, err)
	}
	if len(data) > maxPromptFile {
		return "", usageError{fmt.Sprintf("--prompt-file: %s is larger than %d MiB", name, maxPromptFile>>20)}
	}
	if len(data) == 0 {
		return "", usageError{fmt.Sprintf("--prompt-file: %s is empty", name)}
	}
	return string(data), nil
}

// promptInput turns the prompt flags into the engine's input. No prompt
// at all means generating from the BOS token.
func promptInput(b *engine.Bundle, text, idList string, chat bool) (engine.Input, error) {
	switch {
	case idList != "":
		var ids []int32
		for _, f := range strings.Split(idList, ",") {
			v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil {
				return engine.Input{}, usageError{fmt.Sprintf("--prompt-ids: %q is not a token id", f)}
			}
			ids = append(ids, int32(v))
		}
		return engine.Input{IDs: ids}, nil
	case chat:
		return engine.Input{Chat: []engine.Turn{{Role: engine.User, Content: text}}}, nil
	case text == "":
		bos := b.Tokenizer().BOS()
		if bos < 0 {
			return engine.Input{}, usageError{"the prompt is empty and the model has no BOS token to start from"}
		}
		return engine.Input{IDs: []int32{bos}}, nil
	}
	return engine.Input{Text: text}, nil
}

// printReply writes the reply as it streams (text, or ids on one line),
// then the timing line, which says why generation stopped.
func printReply(s *engine.Stream, ids bool, stdout, stderr io.Writer) error {
	var final engine.Event
	count := 0
	var werr error
	for ev := range s.Events() {
		if ids {
			for _, id := range ev.Tokens {
				sep := " "
				if count == 0 {
					sep = ""
				}
				count++
				_, werr = fmt.Fprintf(stdout, "%s%d", sep, id)
			}
		} else {
			_, werr = io.WriteString(stdout, ev.Text)
		}
		if werr != nil {
			break // leaving the loop cancels the request
		}
		final = ev
	}
	if werr != nil {
		return werr
	}
	if _, err := io.WriteString(stdout, "\n"); err != nil {
		return err
	}
	t, u := final.Timings, final.Usage
	gen := t.Total - t.Queue - t.Prefill
	fmt.Fprintf(stderr, "prompt: %d tokens in %s (%.1f tok/s); generated: %d tokens in %s (%.1f tok/s); seed %d; finish: %s\n",
		u.PromptTokens, t.Prefill.Round(time.Millisecond), t.PromptTokensPerSecond,
		u.CompletionTokens, gen.Round(time.Millisecond), rate(u.CompletionTokens, gen), final.Seed, final.Finish.Describe())
	switch final.Finish {
	case engine.FinishError:
		return final.Err
	case engine.FinishCancelled:
		return fmt.Errorf("generate: %w", final.Err)
	}
	return nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
