package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// runTokenize implements `corral tokenize --model FILE [--no-bos] [--special] TEXT`.
func runTokenize(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr, "corral tokenize --model FILE [--no-bos] [--special] TEXT",
		"Prints the token ids of TEXT on one line, separated by spaces.")
	model := fs.String("model", "", "GGUF model or vocabulary file")
	noBOS := fs.Bool("no-bos", false, "do not put the BOS token first")
	special := fs.Bool("special", false, "recognise control tokens such as <|eot_id|> written in TEXT")
	if err := fs.parse(args, "TEXT"); err != nil {
		return err
	}
	if *model == "" {
		return usageError{"tokenize needs --model FILE"}
	}
	if err := checkFileArg("--model", *model); err != nil {
		return err
	}
	f, err := gguf.Open(*model)
	if err != nil {
		return fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	tok, err := tokenizer.FromMetadata(f)
	if err != nil {
		return fmt.Errorf("load tokenizer of %s: %w", *model, err)
	}
	ids := tok.Encode(fs.Arg(0), tokenizer.EncodeOptions{AddBOS: tok.AddBOS() && !*noBOS, ParseSpecial: *special})
	if len(ids) > 1 && ids[0] == tok.BOS() && ids[1] == tok.BOS() {
		// The text began with the BOS token itself; models see two and
		// usually answer worse, so say so (the ids are still printed).
		fmt.Fprintln(stderr, "warning: the text starts with the BOS token and BOS is also added: two BOS tokens; pass --no-bos to keep one")
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(int(id))
	}
	_, err = fmt.Fprintln(stdout, strings.Join(out, " "))
	return err
}
