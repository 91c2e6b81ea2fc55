package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
)

// runCLI runs the binary's run with args and returns stdout, stderr and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// infoFields parses `model info` output ("key: value" lines) into a map.
func infoFields(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("line without a colon: %q", line)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func TestConvertAndInfoStories260K(t *testing.T) {
	in := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories260K.gguf")
	stdout, stderr, err := runCLI(t, "convert", "--from", "llama2c", in, out)
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, out) {
		t.Errorf("convert output %q does not name %s", stdout, out)
	}

	stdout, stderr, err = runCLI(t, "model", "info", out)
	if err != nil {
		t.Fatalf("model info: %v\n%s", err, stderr)
	}
	got := infoFields(t, stdout)
	// 512*64 embedding + 64 final norm + 5 layers of
	// (64 + 64*64 + 2*32*64 + 64*64 + 64 + 3*64*172) = 260,032 (no separate classifier).
	want := map[string]string{
		"format":         "GGUF v3",
		"architecture":   "llama",
		"name":           "stories260K",
		"parameters":     "260032 (260.0K)",
		"tensors":        "47",
		"tensor types":   "F32×47",
		"context length": "512",
		"embedding":      "64",
		"layers":         "5",
		"heads":          "8",
		"kv heads":       "4",
		"feed forward":   "172",
		"rope dims":      "8",
		"rope base":      "10000",
		"rms epsilon":    "1e-05",
		"file size":      "1056064 bytes (1.0 MiB)", // 4×260032 bytes of weights + header
		"tokenizer":      "llama (SentencePiece), 512 tokens",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if v, ok := got["not run"]; ok {
		t.Errorf("not run: %q for an F32 file", v)
	}
}

// TestModelInfoNotRun: info names the tensor types the kernels do not run.
func TestModelInfoNotRun(t *testing.T) {
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	if err := w.Set(gguf.KeyArchitecture, gguf.ArchLlama); err != nil {
		t.Fatal(err)
	}
	types := []gguf.TensorType{gguf.TypeQ3_K, gguf.TypeQ8_0, gguf.TypeIQ3_S}
	for i, typ := range types {
		if err := w.AddTensor(fmt.Sprint("t", i), typ, 256); err != nil {
			t.Fatal(err)
		}
	}
	for i, typ := range types {
		if err := w.WriteTensor(fmt.Sprint("t", i), make([]byte, 256/typ.BlockSize()*typ.TypeSize())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mixed.gguf")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, "model", "info", p)
	if err != nil {
		t.Fatal(err)
	}
	want := "Q3_K IQ3_S (the kernels run F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, BF16)"
	if got := infoFields(t, stdout)["not run"]; got != want {
		t.Errorf("not run: %q, want %q", got, want)
	}
}

func TestModelInfoVocabulary(t *testing.T) {
	p := shareddata.Path(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf")
	stdout, _, err := runCLI(t, "model", "info", p)
	if err != nil {
		t.Fatal(err)
	}
	got := infoFields(t, stdout)
	for k, v := range map[string]string{
		"architecture": "llama", "tensors": "0", "parameters": "0 (0)", "context length": "4096",
		"tokenizer": "llama (SentencePiece), 32000 tokens", "file size": "723869 bytes (706.9 KiB)",
	} {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestConvertAndModelErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		args  []string
		usage bool   // want a usage error (exit status 2)
		text  string // in the error
	}{
		{"convert without --from", []string{"convert", "a", "b"}, true, "needs --from"},
		{"convert unknown format", []string{"convert", "--from", "safetensors", "a", "b"}, true, `unknown --from "safetensors"`},
		{"convert one argument", []string{"convert", "--from", "llama2c", "a"}, true, "needs IN and OUT, got 1"},
		{"convert bad flag", []string{"convert", "--nope"}, true, "not defined"},
		{"convert missing input", []string{"convert", "--from", "llama2c", filepath.Join(dir, "none.bin"), filepath.Join(dir, "o.gguf")}, false, "no such file"},
		{"model without subcommand", []string{"model"}, true, "needs a subcommand"},
		{"model unknown subcommand", []string{"model", "frobnicate"}, true, `unknown model subcommand "frobnicate"`},
		{"model info no file", []string{"model", "info"}, true, "needs FILE, got 0 arguments"},
		{"model info missing file", []string{"model", "info", filepath.Join(dir, "none.gguf")}, false, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.text)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v (%v)", !tc.usage, tc.usage, err)
			}
		})
	}
	if _, _, err := runCLI(t, "model", "help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("model help: %v", err)
	}
}

func TestConvertTokenizerMismatch(t *testing.T) {
	in := shareddata.Path(t, "stories260K", "stories260K.bin")
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok.bin")
	// A tokenizer.bin of 1 token cannot serve a 512-token model.
	if err := os.WriteFile(tok, []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'}, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "convert", "--from", "llama2c", "--tokenizer", tok, in, filepath.Join(dir, "o.gguf"))
	if err == nil || !strings.Contains(err.Error(), "token 1 of 512") {
		t.Fatalf("err = %v, want a tokenizer size error", err)
	}
}
