package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/services/internal/atomicfile"
)

// safetyCommands are the subcommands of `corral safety`.
var safetyCommands = map[string]command{
	"classify": {"classify JSON lines from stdin with the safety stage (one verdict line each)", runSafetyClassify},
	"train":    {"train the safety classifier from a corpus and write its weights file", runSafetyTrain},
}

// runSafety dispatches `corral safety <subcommand> ...`.
func runSafety(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "safety", safetyCommands, args, stdout, stderr)
}

// runSafetyClassify implements `corral safety classify`.
func runSafetyClassify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("safety classify", stderr, "corral safety classify [--strictness S] [--threshold T] [--terms a,b] [--weights FILE] [--in FILE] < in.jsonl > out.jsonl",
		`Reads {"id","text","role":"user"|"assistant"} lines; writes {"id","verdict","categories":[{"name","score"}],"ms"} lines.`)
	strictness := fs.String("strictness", "standard", "standard, strict or strictest")
	threshold := fs.Float64("threshold", 0, "refuse categories scoring at least this (only below the baseline's 0.5 takes effect)")
	terms := fs.String("terms", "", "comma-separated extra terms to refuse (a persona's own)")
	weights := fs.String("weights", "", "weights file from `corral safety train` (default: the built-in one)")
	inPath := fs.String("in", "-", "input file; - is stdin")
	if err := fs.parse(args); err != nil {
		return err
	}
	var ps safety.PersonaSettings
	switch *strictness {
	case "standard":
	case "strict":
		ps.Strictness = safety.Strict
	case "strictest":
		ps.Strictness = safety.Strictest
	default:
		return usageError{fmt.Sprintf("--strictness %q: want standard, strict or strictest", *strictness)}
	}
	ps.Threshold = *threshold
	if *terms != "" {
		ps.ExtraTerms = strings.Split(*terms, ",")
	}
	policy, err := safety.Baseline().Tighten(ps)
	if err != nil {
		return usageError{err.Error()}
	}
	var opts safety.Options
	if *weights != "" {
		if opts.Weights, err = os.ReadFile(*weights); err != nil {
			return fmt.Errorf("read weights: %w", err)
		}
	}
	stage, err := safety.New(opts)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if *inPath != "-" {
		f, err := os.Open(*inPath)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		in = f
	}
	return safety.Classify(ctx, in, stdout, stage, &policy)
}

// runSafetyTrain implements `corral safety train`.
func runSafetyTrain(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("safety train", stderr, "corral safety train --corpus FILE --out FILE [--seed N] [--holdout F]",
		"The defaults reproduce the built-in weights (inference/safety/classifier.weights) byte for byte.")
	corpus := fs.String("corpus", "", "training corpus, JSON lines (required; the shared one is ../shared/testdata/safety/train.jsonl)")
	out := fs.String("out", "", "where to write the weights file (required)")
	seed := fs.Uint64("seed", safety.DefaultSeed, "seed of the held-out split and the training order")
	holdout := fs.Float64("holdout", safety.DefaultHoldout, "fraction of each label/category held out of training")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *corpus == "" || *out == "":
		return usageError{"safety train needs --corpus FILE and --out FILE"}
	case *seed == 0:
		return usageError{"--seed must not be 0"}
	}
	in, err := os.Open(*corpus)
	if err != nil {
		return fmt.Errorf("open corpus: %w", err)
	}
	defer in.Close()
	var buf bytes.Buffer
	rep, err := safety.TrainCorpus(in, &buf, safety.TrainOptions{Seed: *seed}, *holdout)
	if err != nil {
		return fmt.Errorf("train on %s: %w", *corpus, err)
	}
	if err := atomicfile.Write(*out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		return fmt.Errorf("write weights: %w", err)
	}
	fmt.Fprintf(stdout, "trained on %d of %d examples in %.1fs; held out %d (classifier alone: recall %.3f, false positives %.3f); wrote %s (%d bytes)\n",
		rep.Train, rep.Examples, rep.Seconds, rep.HeldOut, rep.HeldOutRecall, rep.HeldOutFP, *out, rep.WeightsBytes)
	return nil
}
