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
	"strconv"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/kvcache"
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
	// KVType is the KV cache's element type.
	KVType string `json:"kv_type"`
	// Aggregate is the decode tokens per second of N sequences at once,
	// by N (--concurrency).
	Aggregate map[string]float64 `json:"aggregate_tps,omitempty"`
	// TTFTCold and TTFTWarm are the time to first token of a request
	// starting with a --prefix-token persona prompt, without and with
	// that prompt warmed in the prefix cache.
	TTFTCold float64 `json:"ttft_cold_ms,omitempty"`
	TTFTWarm float64 `json:"ttft_warm_ms,omitempty"`
}

// runBench implements `corral bench`, a client of inference/engine: each
// measurement is one request, timed by the engine.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr, "corral bench --model FILE [--threads K] [--concurrency N,N...] [--prefix N] [--kv-type f16|f32] [--kv-memory SIZE] [--cpuprofile FILE] [--compare FILE.jsonl]\n"+
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
	concurrency := fs.String("concurrency", "", "also measure aggregate decode with this many sequences at once, comma-separated (for example 1,4,16,64)")
	prefix := fs.Int("prefix", 0, "also measure time to first token after a persona prompt of this many tokens, cold and warm")
	kvf := addKVFlags(fs, "f16")
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
	kvType, kvMemory, err := kvf.values()
	if err != nil {
		return err
	}
	counts, err := parseCounts(*concurrency)
	if err != nil {
		return err
	}
	if *prefix < 0 {
		return usageError{fmt.Sprintf("--prefix %d must be >= 0", *prefix)}
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
	most := slices.Max(append(counts, 1))
	if kvMemory == 0 && len(counts) > 0 {
		// Room for every sequence whole, so that nothing is preempted.
		kvMemory = max(engine.DefaultKVMemory(b, kvType, b.Model().Config().ContextLength), kvBytes(b, kvType, most*(batchPrompt+batchGen+32)))
	}
	e, err := engine.New(b, engine.Options{PrefillChunk: benchPrompt, MaxRunning: max(most, engine.DefaultMaxRunning),
		QueueSize: max(most, engine.DefaultQueueSize), QueueTokens: max(most*batchPrompt, engine.DefaultQueueTokens), KVType: kvType, KVMemory: kvMemory})
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
	for r := range benchRuns {
		// A new prompt each run: the prefix cache would serve a repeated one.
		t, err := measure(benchPromptIDs(benchPrompt, r+1, vocab), 1)
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
	res := benchResult{Model: filepath.Base(*modelPath), Threads: nThreads, PP512: round2(median(pp)), TG128: round2(median(tg)), KVType: kvType.String()}
	for i, n := range counts {
		if res.Aggregate == nil {
			res.Aggregate = map[string]float64{}
		}
		var runs []float64
		for r := range benchRuns {
			tps, err := aggregateDecode(ctx, e, n, 100*i+r, vocab, bias)
			if err != nil {
				return err
			}
			runs = append(runs, tps)
		}
		res.Aggregate[strconv.Itoa(n)] = round2(median(runs))
	}
	if *prefix > 0 {
		if *prefix+prefixSuffix > e.ContextLength() {
			return usageError{fmt.Sprintf("--prefix %d: the model's context holds %d tokens", *prefix, e.ContextLength())}
		}
		cold, warm, err := prefixTTFT(ctx, e, *prefix, benchRuns, vocab, bias)
		if err != nil {
			return err
		}
		res.TTFTCold, res.TTFTWarm = round2(cold), round2(warm)
	}
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

// kvBytes is the KV budget that holds tokens tokens of b's model.
func kvBytes(b *engine.Bundle, t kvcache.Type, tokens int) int64 {
	c := b.Model().Config()
	block, err := kvcache.Config{Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Type: t}.BlockBytes()
	if err != nil {
		return 0
	}
	return block * int64(tokens/kvcache.DefaultBlockTokens+1)
}

// median is the middle value, or the mean of the two middle ones of an
// even count.
func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
