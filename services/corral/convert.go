package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/corral-ai/corral/inference/llama2c"
)

// runConvert implements `corral convert --from llama2c [--tokenizer tok.bin] IN OUT`.
func runConvert(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "format of IN; supported: llama2c (a legacy llama2.c checkpoint)")
	tok := fs.String("tokenizer", "", "llama2.c tokenizer.bin for the model; without it a placeholder vocabulary is written")
	name := fs.String("name", "", "general.name of the output (default: IN's base name)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: corral convert --from llama2c [--tokenizer tok.bin] [--name NAME] IN OUT")
		fmt.Fprintln(stderr, "Converts a model file to an F32 GGUF file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return usageError{fmt.Sprintf("convert needs IN and OUT, got %d arguments", fs.NArg())}
	}
	in, out := fs.Arg(0), fs.Arg(1)
	switch *from {
	case "llama2c":
		if err := llama2c.ConvertFile(in, out, *tok, llama2c.Options{Name: *name}); err != nil {
			return err
		}
		if *tok == "" {
			fmt.Fprintln(stderr, "warning: no --tokenizer given: the vocabulary is a placeholder (byte tokens and <tok_N>), so text prompts will not tokenize as the model was trained; pass llama2.c's tokenizer.bin, or use token ids")
		}
	case "":
		return usageError{"convert needs --from (supported: llama2c)"}
	default:
		return usageError{fmt.Sprintf("convert: unknown --from %q (supported: llama2c)", *from)}
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}
