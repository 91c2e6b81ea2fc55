package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/shareddata"
)

// TestExitCodes runs every subcommand three ways: asking for help (0), with
// a flag it does not have (2, a usage error) and with a file that cannot
// be read (1, an error while running).
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.gguf")
	out := filepath.Join(t.TempDir(), "out.gguf")
	runtimeFailure := map[string][]string{
		"serve":     {"--check-config", "--data", t.TempDir(), "--model", vocabOnly(t)},
		"inference": {"--check-config", "--data", t.TempDir(), "--model", vocabOnly(t)},
		"gateway":   {"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"},
		"sender":    {"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1", "--redis", "redis://127.0.0.1:1"},
		"chat":      {"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1", "--redis", "redis://127.0.0.1:1"},
		"studio":    {"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1", "--redis", "redis://127.0.0.1:1"},
		"convert":   {"--from", "llama2c", missing, out},
		"model":     {"info", missing},
		"generate":  {"--model", missing, "--prompt", "hi"},
		"bench":     {"--model", missing},
		"tokenize":  {"--model", missing, "hi"},
		"safety":    {"classify", "--in", missing},
		"creator":   {"revoke", "--redis=", "--data", missing, "c_aaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"channel":   {"remove", "--redis=", "--data", missing, "--platform", "whatsapp", "--id", "1"},
		"loadgen":   {"--engine", "http://127.0.0.1:1/v1", "--progress=false"},
	}
	for name := range commands() {
		t.Run(name, func(t *testing.T) {
			help := []string{name, "--help"}
			if name == "model" {
				help = []string{name, "info", "--help"}
			}
			if code := exitCode(run(t.Context(), help, io.Discard, io.Discard)); code != 0 {
				t.Errorf("%v: exit code %d, want 0", help, code)
			}
			if code := exitCode(run(t.Context(), []string{name, "--no-such-flag"}, io.Discard, io.Discard)); code != 2 {
				t.Errorf("%s --no-such-flag: exit code %d, want 2", name, code)
			}
			args, ok := runtimeFailure[name]
			if !ok {
				if name != "version" {
					t.Fatalf("no runtime failure case for %s: add one", name)
				}
				return
			}
			err := run(t.Context(), append([]string{name}, args...), io.Discard, io.Discard)
			if code := exitCode(err); code != 1 {
				t.Errorf("%s %v: exit code %d, want 1 (%v)", name, args, code, err)
			}
		})
	}
	for _, args := range [][]string{{"nope"}, {"model"}, {"model", "nope"}, {"version", "extra"}} {
		if code := exitCode(run(t.Context(), args, io.Discard, io.Discard)); code != 2 {
			t.Errorf("%v: exit code %d, want 2", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.HasPrefix(out.String(), "corral "+versionString()+" (go") {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	old := version
	t.Cleanup(func() { version = old })
	version = "v1.2.3"
	if v := versionString(); v != "v1.2.3" {
		t.Errorf("versionString with ldflags = %q", v)
	}
}

func TestHelpListsRoles(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"serve", "convert", "version", "roles (", "inference"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestOutputRefusals(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(in, []byte("checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "old.gguf")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.bin")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"convert onto its input", []string{"convert", "--from", "llama2c", in, in}, "is the input"},
		{"convert onto its input with --force", []string{"convert", "--from", "llama2c", "--force", in, in}, "is the input"},
		{"convert onto a symlink to its input", []string{"convert", "--from", "llama2c", "--force", in, link}, "is the input"},
		{"convert onto its input by a relative path", []string{"convert", "--from", "llama2c", "--force", in, "./in.bin"}, "is the input"},
		{"convert onto its tokenizer", []string{"convert", "--from", "llama2c", "--force", "--tokenizer", existing, in, existing}, "is the input"},
		{"convert onto an existing file", []string{"convert", "--from", "llama2c", in, existing}, "exists; pass --force"},
		{"convert into a missing folder", []string{"convert", "--from", "llama2c", in, filepath.Join(dir, "no", "out.gguf")}, "does not exist"},
		{"convert onto a folder", []string{"convert", "--from", "llama2c", "--force", in, dir}, "is a folder"},
		{"synth onto an existing file", []string{"model", "synth", "--shape", "llama-110m", "--out", existing}, "exists; pass --force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
		})
	}
	for path, want := range map[string]string{in: "checkpoint", existing: "keep me"} {
		if data, err := os.ReadFile(path); err != nil || string(data) != want {
			t.Errorf("%s changed: %q, %v", path, data, err)
		}
	}
}

func TestConvertGGUFInput(t *testing.T) {
	in := vocabOnly(t)
	_, _, err := runCLI(t, "convert", "--from", "llama2c", in, filepath.Join(t.TempDir(), "out.gguf"))
	if err == nil || !strings.Contains(err.Error(), "is already a GGUF file") || strings.Contains(err.Error(), "dim") {
		t.Fatalf("err = %v, want it to say the input is GGUF already", err)
	}
}

func TestModelInfoFolder(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCLI(t, "model", "info", dir)
	if err == nil || !strings.Contains(err.Error(), "is a folder, want a GGUF file") || strings.Contains(err.Error(), "mmap") {
		t.Fatalf("err = %v, want a plain folder message", err)
	}
}

func TestConvertForce(t *testing.T) {
	in := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories.gguf")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCLI(t, "convert", "--from", "llama2c", "--force", in, out); err != nil {
		t.Fatalf("convert --force: %v\n%s", err, stderr)
	}
	if !isGGUF(out) {
		t.Error("output not replaced by a GGUF file")
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	err := run(t.Context(), []string{"convert", "--help"}, io.Discard, io.Discard)
	if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Errorf("convert --help = %v (exit %d)", err, exitCode(err))
	}
}
