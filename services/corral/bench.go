package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
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

// runBench implements `corral bench`, a client of inference/engine: each
// measurement is one request, timed by the engine.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr, "corral bench --model FILE [--threads K] [--cpuprofile FILE] [--compare FILE.jsonl]\n"+
		"       corral bench --results FILE.jsonl --compare FILE.jsonl",
		fmt.Sprintf("Measures prompt processing (%d tokens in one batch) and generation (%d tokens, one at a time,\n"+
			"from an almost empty cache, as llama-bench does), the median of %d runs each, and prints one JSON object.\n"+
			"--compare then prints a table of our figures beside the ones of the same file and thread count in\n"+
			"FILE.jsonl (llama-bench -o jsonl records, or earlier corral bench results), with the ratios.\n"+
			"--results compares saved corral bench results instead of measuring; the i-th result of a file pairs\n"+
			"with the i-th record of it in the --compare file (interleaved rounds), the ratio is their median.", benchPrompt, benchGen, benchRuns))
	modelPath := fs.String("model", "", "GGUF model file (required unless --results)")
	threads := fs.Int("threads", 0, "worker threads (default and maximum: the CPUs available)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	compare := fs.String("compare", "", "JSON lines file of measurements to compare with (llama-bench -o jsonl, corral bench)")
	results := fs.String("results", "", "JSON lines file of corral bench results to compare instead of measuring (needs --compare)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *results != "" {
		if *compare == "" || *modelPath != "" {
			fs.Usage()
			return usageError{"bench --results needs --compare and no --model"}
		}
		theirs, err := readBenchFile(*compare)
		if err != nil {
			return err
		}
		ours, err := readBenchFile(*results)
		if err != nil {
			return err
		}
		return writeBenchComparison(stdout, ours, theirs, *compare)
	}
	if *modelPath == "" {
		fs.Usage()
		return usageError{"bench needs --model FILE"}
	}
	if err := checkFileArg("--model", *modelPath); err != nil {
		return err
	}
	var theirs []benchRecord
	if *compare != "" {
		// Read before measuring, which takes minutes on large models.
		var err error
		if theirs, err = readBenchFile(*compare); err != nil {
			return err
		}
	}
	nThreads, err := threadCount(*threads, stderr)
	if err != nil {
		return err
	}
	b, err := engine.Load(*modelPath, engine.LoadOptions{Threads: nThreads})
	if err != nil {
		return err
	}
	defer b.Close()
	e, err := engine.New(b, engine.Options{PrefillChunk: benchPrompt})
	if err != nil {
		return err
	}
	defer e.Close(context.WithoutCancel(ctx))
	if c := e.ContextLength(); c < benchPrompt {
		return fmt.Errorf("bench: the model's context holds %d tokens, fewer than the %d-token prompt", c, benchPrompt)
	}
	vocab := int32(b.Model().Config().Vocab)
	prompt := make([]int32, benchPrompt)
	for i := range prompt {
		// Fixed, spread-out token ids; random weights make any ids alike.
		prompt[i] = int32(i*7919+1) % vocab
	}
	// Greedy, and the end-of-generation tokens banned, so every run
	// generates all its tokens.
	bias := map[int32]float32{}
	for _, id := range b.Tokenizer().EOG() {
		bias[id] = float32(math.Inf(-1))
	}
	measure := func(ids []int32, n int) (engine.Timings, error) {
		s, err := e.Submit(ctx, engine.Request{Input: engine.Input{IDs: ids}, Sampling: sample.Options{MaxTokens: n, LogitBias: bias}, Priority: engine.PriorityBatch})
		if err != nil {
			return engine.Timings{}, err
		}
		f := s.Collect().Final
		if f.Finish != engine.FinishLength {
			return engine.Timings{}, fmt.Errorf("bench: generation ended early (%s): %v", f.Finish, f.Err)
		}
		return f.Timings, nil
	}
	// Warm up as llama-bench does, with a whole prompt: every weight page
	// and the key/value cache of the full length are touched once (the
	// first run would otherwise pay for faulting the cache in), and the buffers
	// take their size.
	if _, err := measure(prompt, 1); err != nil {
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
		t, err := measure(prompt, 1)
		if err != nil {
			return err
		}
		pp = append(pp, t.PromptTokensPerSecond)
		// One prompt token, then benchGen tokens after the first one.
		if t, err = measure(prompt[:1], benchGen+1); err != nil {
			return err
		}
		tg = append(tg, t.TokensPerSecond)
	}
	res := benchResult{Model: filepath.Base(*modelPath), Threads: nThreads, PP512: round2(median(pp)), TG128: round2(median(tg))}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err = fmt.Fprintln(stdout, string(out)); err != nil || *compare == "" {
		return err
	}
	ours, err := parseBenchLine(string(out))
	if err != nil {
		return err
	}
	return writeBenchComparison(stdout, ours, theirs, *compare)
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
