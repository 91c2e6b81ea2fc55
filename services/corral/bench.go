package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/corral-ai/corral/inference/model"
)

// Bench sizes, as llama-bench names them: pp512 and tg128.
const (
	benchPrompt = 512
	benchGen    = 128
	benchRuns   = 3
)

// benchResult is the one JSON object `corral bench` prints.
type benchResult struct {
	Model   string  `json:"model"`
	Threads int     `json:"threads"`
	PP512   float64 `json:"pp512_tps"`
	TG128   float64 `json:"tg128_tps"`
}

// runBench implements `corral bench`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "GGUF model file (required)")
	threads := fs.Int("threads", 0, "worker threads (default: GOMAXPROCS)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: corral bench --model FILE [--threads K] [--cpuprofile FILE]")
		fmt.Fprintf(stderr, "Measures prompt processing (%d tokens in one batch) and generation (%d tokens, one at a time,\n", benchPrompt, benchGen)
		fmt.Fprintf(stderr, "from an empty cache, as llama-bench does), the median of %d runs each, and prints one JSON object.\n", benchRuns)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 || *modelPath == "" {
		fs.Usage()
		return usageError{"bench needs --model FILE and no arguments"}
	}
	if *threads <= 0 {
		*threads = runtime.GOMAXPROCS(0)
	}
	m, err := model.Open(*modelPath, model.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()
	kv, err := model.NewCache(m.Config(), 1, benchPrompt)
	if err != nil {
		return err
	}
	vocab := int32(m.Config().Vocab)
	prompt := make([]model.Entry, benchPrompt)
	for i := range prompt {
		// Fixed, spread-out token ids; random weights make any ids alike.
		prompt[i] = model.Entry{Pos: i, Token: int32(i*7919+1) % vocab, Logits: i == benchPrompt-1}
	}
	// Warm up: touch every weight page once and size the buffers.
	if _, err := m.Forward(ctx, prompt[:16], kv); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var pp, tg []float64
	for range benchRuns {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if _, err := m.Forward(ctx, prompt, kv); err != nil {
			return err
		}
		pp = append(pp, benchPrompt/time.Since(start).Seconds())

		start = time.Now()
		tok := int32(1)
		for pos := range benchGen {
			logits, err := m.Forward(ctx, []model.Entry{{Pos: pos, Token: tok, Logits: true}}, kv)
			if err != nil {
				return err
			}
			tok = int32(slices.Index(logits, slices.Max(logits)))
		}
		tg = append(tg, benchGen/time.Since(start).Seconds())
	}
	res := benchResult{Model: filepath.Base(*modelPath), Threads: *threads, PP512: round2(median(pp)), TG128: round2(median(tg))}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
