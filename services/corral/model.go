package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
)

// modelCommands are the subcommands of `corral model`.
var modelCommands = map[string]command{
	"info": {"print a GGUF model's architecture, sizes, quant types and tokenizer", runModelInfo},

	"synth": {"write a random-weight Llama model of a named shape (benchmarks)", runModelSynth},
}

// runModel dispatches `corral model <subcommand> ...`.
func runModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "model", modelCommands, args, stdout, stderr)
}

// runModelInfo implements `corral model info FILE`.
func runModelInfo(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model info", stderr, "corral model info FILE", "Prints a GGUF file's architecture, sizes, quant types and tokenizer.")
	if err := fs.parse(args, "FILE"); err != nil {
		return err
	}
	if err := checkFileArg("model info", fs.Arg(0)); err != nil {
		return err
	}
	f, err := gguf.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	printInfo(stdout, fs.Arg(0), f.Info())
	return nil
}

func printInfo(w io.Writer, path string, in gguf.Info) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	p := in.Params
	types := make([]string, len(in.Types))
	var notRun []string
	for i, tc := range in.Types {
		types[i] = fmt.Sprintf("%s×%d", tc.Type, tc.Count)
		if _, ok := model.KernelType(tc.Type); !ok {
			notRun = append(notRun, tc.Type.String())
		}
	}
	rows := [][2]string{
		{"file", path},
		{"format", fmt.Sprintf("GGUF v%d", in.Version)},
		{"architecture", in.Architecture},
		{"name", in.Name},
		{"parameters", fmt.Sprintf("%d (%s)", in.Parameters, humanCount(in.Parameters))},
		{"file size", fmt.Sprintf("%d bytes (%s)", in.FileSize, bytesize.Format(in.FileSize))},
		{"tensors", fmt.Sprint(in.TensorCount)},
		{"tensor types", strings.Join(types, " ")},
		{"context length", countOrAbsent(p.ContextLength)},
		{"embedding", countOrAbsent(p.EmbeddingLength)},
		{"layers", countOrAbsent(p.BlockCount)},
		{"heads", countOrAbsent(p.HeadCount)},
		{"kv heads", countOrAbsent(p.HeadCountKV)},
		{"feed forward", countOrAbsent(p.FeedForwardLength)},
		{"rope dims", countOrAbsent(p.RopeDimCount)},
		{"rope base", floatOrAbsent(p.RopeFreqBase)},
		{"rms epsilon", floatOrAbsent(p.RMSEpsilon)},
		{"tokenizer", fmt.Sprintf("%s (%s), %d tokens", in.Tokenizer, gguf.TokenizerKind(in.Tokenizer), in.VocabSize)},
	}
	if len(notRun) > 0 {
		// Said before loading fails on them (llama-quantize writes such types
		// unasked for rows that fit no K-quant block).
		rows = slices.Insert(rows, 8, [2]string{"not run", strings.Join(notRun, " ") + " (the kernels run " + strings.Join(model.SupportedTypes(), ", ") + ")"})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}

// countOrAbsent and floatOrAbsent print a hyperparameter, or "absent"
// when the file does not set it (a vocabulary-only file, say), so a missing
// key is not mistaken for a zero.
func countOrAbsent(n int) string {
	if n == 0 {
		return "absent"
	}
	return fmt.Sprint(n)
}

func floatOrAbsent(x float64) string {
	if x == 0 {
		return "absent"
	}
	return shortFloat(x)
}

// shortFloat prints x with float32 precision, the width GGUF files store
// these values in, so 1e-5 reads as 1e-05 and not 9.999999747378752e-06.
func shortFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 32) }

// humanCount prints n with a K/M/B suffix.
func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
