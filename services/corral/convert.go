package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/services/internal/atomicfile"
)

// runConvert implements `corral convert --from llama2c [--tokenizer tok.bin] IN OUT`.
func runConvert(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", stderr, "corral convert --from llama2c [--tokenizer tok.bin] [--name NAME] [--force] IN OUT",
		"Converts a model file to an F32 GGUF file.")
	from := fs.String("from", "", "format of IN; supported: llama2c (a legacy llama2.c checkpoint)")
	tok := fs.String("tokenizer", "", "llama2.c tokenizer.bin for the model; without it a placeholder vocabulary is written")
	name := fs.String("name", "", "general.name of the output (default: IN's base name)")
	force := fs.Bool("force", false, "replace OUT if it exists")
	if err := fs.parse(args, "IN", "OUT"); err != nil {
		return err
	}
	in, out := fs.Arg(0), fs.Arg(1)
	switch *from {
	case "llama2c":
	case "":
		return usageError{"convert needs --from (supported: llama2c)"}
	default:
		return usageError{fmt.Sprintf("convert: unknown --from %q (supported: llama2c)", *from)}
	}
	if err := checkOutput(out, *force, in, *tok); err != nil {
		return err
	}
	if err := convertLlama2c(in, out, *tok, *name); err != nil {
		return err
	}
	if *tok == "" {
		fmt.Fprintln(stderr, "warning: no --tokenizer given: the vocabulary is a placeholder (byte tokens and <tok_N>), so text prompts will not tokenize as the model was trained; pass llama2.c's tokenizer.bin, or use token ids")
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// convertLlama2c converts the llama2.c checkpoint in to the GGUF file out.
func convertLlama2c(in, out, tokPath, name string) error {
	if isGGUF(in) {
		return fmt.Errorf("%s is already a GGUF file: convert --from llama2c reads llama2.c checkpoints; use the file as it is", in)
	}
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder, want a llama2.c checkpoint file", in)
	}
	opts := llama2c.Options{Name: name}
	if tokPath != "" {
		tok, err := os.Open(tokPath)
		if err != nil {
			return fmt.Errorf("--tokenizer: %w", err)
		}
		defer tok.Close()
		opts.Tokenizer = tok
	}
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
	}
	return atomicfile.Write(out, func(w io.Writer) error {
		if err := llama2c.Convert(w, src, st.Size(), opts); err != nil {
			return fmt.Errorf("convert %s: %w", in, err)
		}
		return nil
	})
}
