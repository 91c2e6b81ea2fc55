package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// writeTokenizerGGUF writes a vocabulary-only GGUF file holding v (no
// tokenizer at all when v is nil).
func writeTokenizerGGUF(t *testing.T, v *tokenizer.Vocab) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter(f)
	if err := w.Set(gguf.KeyArchitecture, gguf.ArchLlama); err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := v.Write(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

// llama3GGUF imports the shared Llama 3 tokenizer.json into a GGUF file.
func llama3GGUF(t *testing.T) string {
	t.Helper()
	js, err := os.ReadFile(shareddata.Path(t, "tokenizers", "llama3-bpe", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(shareddata.Path(t, "tokenizers", "llama3-bpe", "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenizer.ImportHF(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return writeTokenizerGGUF(t, &v)
}

func TestTokenize(t *testing.T) {
	spm := shareddata.Path(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf")
	bpe := llama3GGUF(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"spm adds bos", []string{"--model", spm, "Hello world"}, "1 15043 3186"},
		{"spm no bos", []string{"--model", spm, "--no-bos", "Hello world"}, "15043 3186"},
		{"spm control as text", []string{"--model", spm, "--no-bos", "<s>"}, "529 29879 29958"},
		{"spm control parsed", []string{"--model", spm, "--no-bos", "--special", "<s>"}, "1"},
		{"spm empty text", []string{"--model", spm, "--no-bos", ""}, ""},
		{"bpe adds bos", []string{"--model", bpe, "Hello world"}, "128000 9906 1917"},
		{"bpe special", []string{"--model", bpe, "--no-bos", "--special", "<|begin_of_text|>Hello<|eot_id|>"}, "128000 9906 128009"},
		{"bpe multilingual", []string{"--model", bpe, "--no-bos", "нещо на Български"}, "79862 102118 13373 64571 34694 3114 112203 80112"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, append([]string{"tokenize"}, tt.args...)...)
			if err != nil {
				t.Fatalf("tokenize: %v\n%s", err, stderr)
			}
			if stdout != tt.want+"\n" {
				t.Errorf("stdout %q, want %q", stdout, tt.want+"\n")
			}
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	spm := shareddata.Path(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf")
	noTokenizer := writeTokenizerGGUF(t, nil)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no model", []string{"hi"}, 2, "--model"},
		{"no text", []string{"--model", spm}, 2, "needs TEXT, got 0"},
		{"two texts", []string{"--model", spm, "a", "b"}, 2, "got 2"},
		{"bad flag", []string{"--bos", "--model", spm, "a"}, 2, "bos"},
		{"missing file", []string{"--model", filepath.Join(t.TempDir(), "none.gguf"), "a"}, 1, "no such file"},
		{"folder", []string{"--model", t.TempDir(), "a"}, 1, "is a folder, want a GGUF file"},
		{"not a tokenizer", []string{"--model", noTokenizer, "a"}, 1, "tokenizer.ggml.model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"tokenize"}, tt.args...)...)
			if err == nil {
				t.Fatal("tokenize succeeded")
			}
			if code := exitCode(err); code != tt.code {
				t.Errorf("exit code %d, want %d (%v)", code, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestTokenizeWarnsOnDoubleBOS(t *testing.T) {
	vocab := shareddata.Path(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf")
	var stdout, stderr strings.Builder
	if err := run(t.Context(), []string{"tokenize", "--model", vocab, "--special", "<s>Hi"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "1 1 ") || !strings.Contains(stderr.String(), "two BOS tokens") {
		t.Fatalf("stdout %q stderr %q: want the doubled BOS printed and warned about", stdout.String(), stderr.String())
	}
	stderr.Reset()
	stdout.Reset()
	if err := run(t.Context(), []string{"tokenize", "--model", vocab, "--special", "--no-bos", "<s>Hi"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Fatalf("unexpected warning with --no-bos: %q", stderr.String())
	}
}
