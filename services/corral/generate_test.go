package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/gguf"
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
