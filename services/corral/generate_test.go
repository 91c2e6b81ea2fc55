package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// storiesGGUF converts the shared stories260K checkpoint into a temporary
// GGUF file through `corral convert`.
func storiesGGUF(t *testing.T) string {
	t.Helper()
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories260K.gguf")
	if _, stderr, err := runCLI(t, "convert", "--from", "llama2c", bin, out); err != nil {
		t.Fatalf("convert: %v\n%s", err, stderr)
	}
	return out
}

// TestGenerateGolden is llama2.c's `run stories260K.bin -t 0.0 -n 200`:
// greedy from BOS, 200 generated ids.
func TestGenerateGolden(t *testing.T) {
	path := storiesGGUF(t)
	golden, err := os.ReadFile(shareddata.Path(t, "stories260K", "golden_greedy_ids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(golden)), "\n")
	want := strings.TrimSpace(lines[len(lines)-1])
	stdout, stderr, err := runCLI(t, "generate", "--model", path, "--prompt-ids", "1", "--temp", "0", "-n", "200", "--ids", "--threads", "2")
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	if got := strings.TrimSpace(stdout); got != want {
		t.Fatalf("ids differ from golden_greedy_ids.txt\ngot  %s\nwant %s", got, want)
	}
	if len(strings.Fields(stdout)) != 200 {
		t.Fatalf("%d ids, want 200", len(strings.Fields(stdout)))
	}
	if !strings.Contains(stderr, "prompt: 1 tokens") || !strings.Contains(stderr, "generated: 200 tokens") || !strings.Contains(stderr, "tok/s") {
		t.Fatalf("timing line: %q", stderr)
	}
}

func demoModel(t *testing.T) string {
	t.Helper()
	path, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateText(t *testing.T) {
	path := demoModel(t)
	args := []string{"generate", "--model", path, "--prompt", "Once upon a time", "-n", "12", "--seed", "7", "--temp", "1"}
	a, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	b, _, err := runCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("same seed, different text:\n%q\n%q", a, b)
	}
	if strings.TrimSpace(a) == "" || !strings.Contains(stderr, "seed 7") {
		t.Fatalf("output %q, stderr %q", a, stderr)
	}
	ids, _, err := runCLI(t, "generate", "--model", path, "--prompt", "hello", "-n", "5", "--seed", "7", "--ids")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(ids)); n < 1 || n > 5 {
		t.Fatalf("--ids -n 5 printed %d ids: %q", n, ids)
	}
}

// TestGenerateChat wraps the prompt in the demo model's ChatML template;
// a wrong template name is refused.
func TestGenerateChat(t *testing.T) {
	path := demoModel(t)
	if _, stderr, err := runCLI(t, "generate", "--model", path, "--prompt", "hello", "--chat", "-n", "4", "--seed", "1"); err != nil {
		t.Fatalf("--chat: %v\n%s", err, stderr)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := chattemplate.ChatML.Apply(tok, chattemplate.Conversation{Turns: []chattemplate.Turn{{Role: chattemplate.User, Content: "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, "generate", "--model", path, "--prompt", "hello", "--chat", "-n", "4", "--seed", "1")
	if err != nil || !strings.Contains(stderr, fmt.Sprintf("prompt: %d tokens", len(want.IDs))) {
		t.Fatalf("want the %d-token ChatML prompt %q: %v, stderr %q", len(want.IDs), want.Text, err, stderr)
	}
	if _, _, err := runCLI(t, "generate", "--model", path, "--prompt", "hello", "--chat", "--chat-template", "vicuna"); err == nil {
		t.Fatal("unknown --chat-template: no error")
	}
}

func TestGenerateUsage(t *testing.T) {
	path := demoModel(t)
	tests := []struct {
		name string
		args []string
	}{
		{"no model", []string{"generate", "--prompt", "hi"}},
		{"both prompts", []string{"generate", "--model", path, "--prompt", "hi", "--prompt-ids", "1"}},
		{"bad id", []string{"generate", "--model", path, "--prompt-ids", "1,x"}},
		{"id beyond vocabulary", []string{"generate", "--model", path, "--prompt-ids", "1,99999"}},
		{"negative n", []string{"generate", "--model", path, "-n", "-1"}},
		{"negative temperature", []string{"generate", "--model", path, "--temp", "-1"}},
		{"stray argument", []string{"generate", "--model", path, "extra"}},
		{"chat with ids", []string{"generate", "--model", path, "--prompt-ids", "1", "--chat"}},
		{"template without chat", []string{"generate", "--model", path, "--prompt", "hi", "--chat-template", "chatml"}},
		{"unknown template", []string{"generate", "--model", path, "--prompt", "hi", "--chat", "--chat-template", "vicuna"}},
		{"prompt and prompt file", []string{"generate", "--model", path, "--prompt", "hi", "--prompt-file", "-"}},
		{"prompt file and ids", []string{"generate", "--model", path, "--prompt-ids", "1", "--prompt-file", "-"}},
		{"negative threads", []string{"generate", "--model", path, "--threads", "-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error", err)
			}
		})
	}
	if _, _, err := runCLI(t, "generate", "--model", filepath.Join(t.TempDir(), "absent.gguf")); err == nil {
		t.Fatal("missing model file: no error")
	}
}

func TestBench(t *testing.T) {
	stdout, stderr, err := runCLI(t, "bench", "--model", demoModel(t), "--threads", "2")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if res["model"] != synth.DemoFile || res["threads"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	for _, k := range []string{"pp512_tps", "tg128_tps"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Fatalf("%s = %v", k, res[k])
		}
	}
}

// TestBenchBatched: --concurrency and --prefix add the aggregate decode
// rates and the cold and warm times to first token; bad values are usage
// errors.
func TestBenchBatched(t *testing.T) {
	path := demoModel(t)
	stdout, stderr, err := runCLI(t, "bench", "--model", path, "--threads", "2", "--concurrency", "1,4", "--prefix", "64", "--kv-type", "f32")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var res struct {
		PP512     float64            `json:"pp512_tps"`
		TG128     float64            `json:"tg128_tps"`
		KVType    string             `json:"kv_type"`
		Aggregate map[string]float64 `json:"aggregate_tps"`
		Cold      float64            `json:"ttft_cold_ms"`
		Warm      float64            `json:"ttft_warm_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if res.PP512 <= 0 || res.TG128 <= 0 || res.KVType != "f32" || len(res.Aggregate) != 2 || res.Aggregate["1"] <= 0 || res.Aggregate["4"] <= 0 || res.Cold <= 0 || res.Warm <= 0 {
		t.Fatalf("result %s", stdout)
	}
	var ue usageError
	for _, args := range [][]string{
		{"--concurrency", "0"}, {"--concurrency", "4,x"}, {"--prefix", "-1"}, {"--prefix", "5000"},
		{"--kv-type", "q8"}, {"--kv-memory", "lots"},
	} {
		if _, _, err := runCLI(t, append([]string{"bench", "--model", path}, args...)...); !errors.As(err, &ue) {
			t.Errorf("bench %v: %v, want a usage error", args, err)
		}
	}
}

func TestModelSynth(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.gguf")
	stdout, stderr, err := runCLI(t, "model", "synth", "--shape", "llama-110m", "--type", "q4_0", "--out", out)
	if err != nil {
		t.Fatalf("synth: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "llama-110m Q4_0") {
		t.Fatalf("output %q", stdout)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := f.LlamaParams().BlockCount; n != 12 {
		t.Fatalf("block_count %d", n)
	}
	if tn, ok := f.Tensor(gguf.LayerTensor(11, gguf.LayerFFNUp)); !ok || tn.Type != gguf.TypeQ4_0 || tn.Shape[1] != 2048 {
		t.Fatalf("ffn_up: %+v", tn)
	}
	for _, args := range [][]string{
		{"model", "synth", "--shape", "llama-7z", "--out", out},
		{"model", "synth", "--shape", "llama-110m", "--type", "q3_k", "--out", out},
		{"model", "synth", "--shape", "llama-110m"},
	} {
		var ue usageError
		if _, _, err := runCLI(t, args...); !errors.As(err, &ue) {
			t.Fatalf("%v: error %v, want a usage error", args, err)
		}
	}
}

// updateGolden rewrites the outputs of testdata/generate/*.golden that
// changed, for every kernel level this processor runs; use it only when
// the numerics changed on purpose, and say so in the file's comment line.
var updateGolden = flag.Bool("update", false, "rewrite changed outputs in testdata/generate/*.golden")

// goldenSection matches the line that opens one kernel level's output.
var goldenSection = regexp.MustCompile(`(?m)^--- (portable|avx2|avx512)\n`)

// goldenFile is one testdata/generate/*.golden file: the arguments one per
// line, then for each kernel level a "--- LEVEL" line and stdout byte for
// byte. Outputs depend on the level because the vector kernels add in a
// different order (and sampling turns a last-bit difference into another
// token); they never depend on the thread count.
type goldenFile struct {
	head string
	outs map[string]string
}

func parseGolden(data string) (goldenFile, error) {
	g := goldenFile{outs: map[string]string{}}
	locs := goldenSection.FindAllStringSubmatchIndex(data, -1)
	if len(locs) == 0 || locs[0][0] == 0 || data[locs[0][0]-1] != '\n' {
		return g, errors.New("no --- LEVEL line after the arguments")
	}
	g.head = data[:locs[0][0]-1]
	for i, loc := range locs {
		end := len(data)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		g.outs[data[loc[2]:loc[3]]] = data[loc[1]:end]
	}
	return g, nil
}

func (g goldenFile) String() string {
	var b strings.Builder
	b.WriteString(g.head)
	b.WriteString("\n")
	for l := kernels.Portable; l <= kernels.AVX512; l++ {
		if out, ok := g.outs[l.String()]; ok {
			fmt.Fprintf(&b, "--- %s\n%s", l, out)
		}
	}
	return b.String()
}

// TestGenerateGoldenOutputs replays outputs of `corral generate` recorded
// before it ran through inference/engine (testdata/generate/*.golden), on
// the stories260K model and the demo model, at every kernel level the
// processor runs. The recording used 2 threads; 1 runs faster on a busy
// machine.
func TestGenerateGoldenOutputs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "generate", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	models := map[string]func() string{}
	var stories, demo string
	models["{stories}"] = func() string {
		if stories == "" {
			stories = storiesGGUF(t)
		}
		return stories
	}
	models["{demo}"] = func() string {
		if demo == "" {
			demo = demoModel(t)
		}
		return demo
	}
	defer kernels.SetLevel(kernels.CurrentLevel())
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".golden"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			g, err := parseGolden(string(data))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			args := []string{"generate", "--threads", "1"}
			for _, line := range strings.Split(g.head, "\n") {
				if strings.HasPrefix(line, "#") {
					continue
				}
				if m, ok := models[line]; ok {
					line = m()
				}
				args = append(args, line)
			}
			changed := false
			for l := kernels.Portable; l <= kernels.Available(); l++ {
				kernels.SetLevel(l)
				stdout, stderr, err := runCLI(t, args...)
				if err != nil {
					t.Fatalf("%s: generate: %v\n%s", l, err, stderr)
				}
				want, ok := g.outs[l.String()]
				switch {
				case *updateGolden && stdout != want:
					g.outs[l.String()] = stdout
					changed = true
				case !ok:
					t.Errorf("%s has no output for kernel level %s; record it with -update", file, l)
				case stdout != want:
					t.Errorf("%s: output differs from %s\ngot  %q\nwant %q", l, file, stdout, want)
				}
			}
			if changed {
				if err := os.WriteFile(file, []byte(g.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestGenerateFinishReason: the timing line says why generation stopped.
func TestGenerateFinishReason(t *testing.T) {
	stories := storiesGGUF(t)
	demo := demoModel(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"length", []string{"--model", stories, "--prompt-ids", "1", "--temp", "0", "-n", "5"}, "finish: length limit"},
		{"context", []string{"--model", stories, "--prompt-ids", "1", "--temp", "0", "-n", "600"}, "finish: context full"},
		{"end of sequence", []string{"--model", demo, "--prompt", "hello", "--chat", "--temp", "0"}, "finish: end of sequence"},
		{"nothing to generate", []string{"--model", demo, "--prompt", "hello", "-n", "0"}, "finish: length limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, append([]string{"generate", "--threads", "1"}, tt.args...)...)
			if err != nil {
				t.Fatalf("generate: %v\n%s", err, stderr)
			}
			if !strings.HasSuffix(strings.TrimSpace(stderr), tt.want) {
				t.Fatalf("stderr %q, want it to end with %q", stderr, tt.want)
			}
		})
	}
}

// cancelOnWrite cancels a context at the first write it gets, as Ctrl-C
// while text streams would.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

// TestGenerateInterrupted: a signal during generation stops it, and the
// timing line says so.
func TestGenerateInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out := &cancelOnWrite{cancel: cancel}
	var errOut bytes.Buffer
	err := run(ctx, []string{"generate", "--model", storiesGGUF(t), "--prompt-ids", "1", "--temp", "0", "--ids", "--threads", "1", "-n", "500"}, out, &errOut)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := len(strings.Fields(out.String())); n == 0 || n >= 500 {
		t.Fatalf("%d ids printed", n)
	}
	if !strings.Contains(errOut.String(), "finish: cancelled") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// TestGeneratePromptFile reads the prompt from a file and from standard
// input; both give the output of --prompt.
func TestGeneratePromptFile(t *testing.T) {
	path := demoModel(t)
	text := "Once upon a time\nthere was a dog."
	common := []string{"generate", "--model", path, "-n", "20", "--seed", "5", "--temp", "1", "--threads", "1"}
	want, _, err := runCLI(t, append(common, "--prompt", text)...)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "prompt.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, stderr, err := runCLI(t, append(common, "--prompt-file", file)...)
	if err != nil || got != want {
		t.Fatalf("--prompt-file: %q, %v (%s); want %q", got, err, stderr, want)
	}
	old := stdin
	t.Cleanup(func() { stdin = old })
	stdin = strings.NewReader(text)
	if got, stderr, err = runCLI(t, append(common, "--prompt-file", "-")...); err != nil || got != want {
		t.Fatalf("--prompt-file -: %q, %v (%s); want %q", got, err, stderr, want)
	}
	stdin = strings.NewReader(text)
	chat, _, err := runCLI(t, append(common, "--prompt", text, "--chat")...)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err = runCLI(t, append(common, "--prompt-file", "-", "--chat")...); err != nil || got != chat {
		t.Fatalf("--prompt-file - --chat: %q, %v; want %q", got, err, chat)
	}

	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var ue usageError
	if _, _, err := runCLI(t, append(common, "--prompt-file", empty)...); !errors.As(err, &ue) {
		t.Fatalf("empty prompt file: %v, want a usage error", err)
	}
	if _, _, err := runCLI(t, append(common, "--prompt-file", filepath.Join(t.TempDir(), "absent.txt"))...); err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "absent.txt") {
		t.Fatalf("missing prompt file: %v, want a runtime error naming the file", err)
	}
	stdin = io.MultiReader(strings.NewReader(strings.Repeat("x", maxPromptFile)), strings.NewReader("y"))
	if _, _, err := runCLI(t, append(common, "--prompt-file", "-")...); !errors.As(err, &ue) {
		t.Fatalf("oversized prompt: %v, want a usage error", err)
	}
}

// TestThreadsCapped: more threads than CPUs are capped with a warning, for
// generate and bench alike; negative counts are usage errors.
func TestThreadsCapped(t *testing.T) {
	path := demoModel(t)
	cpus := runtime.GOMAXPROCS(0)
	many := strconv.Itoa(cpus + 510)
	_, stderr, err := runCLI(t, "generate", "--model", path, "--prompt", "hi", "-n", "3", "--threads", many)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "warning: --threads "+many+" is more than the "+strconv.Itoa(cpus)+" CPUs available") {
		t.Fatalf("stderr %q", stderr)
	}
	stdout, stderr, err := runCLI(t, "bench", "--model", path, "--threads", many)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res["threads"] != float64(cpus) || !strings.Contains(stderr, "warning: --threads") {
		t.Fatalf("bench: %q (%v), stderr %q", stdout, err, stderr)
	}
	var ue usageError
	if _, _, err := runCLI(t, "bench", "--model", path, "--threads", "-2"); !errors.As(err, &ue) {
		t.Fatalf("bench --threads -2: %v, want a usage error", err)
	}
}
