package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/services/internal/atomicfile"
)

// runModelSynth implements `corral model synth`.
func runModelSynth(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model synth", stderr, "corral model synth --shape NAME --type TYPE --out FILE [--seed S] [--force]",
		"Writes a Llama model of a named shape with random weights, for benchmarks without downloads.")
	shape := fs.String("shape", "", "model shape: "+strings.Join(synth.ShapeNames(), ", "))
	typ := fs.String("type", "q8_0", "weight type: q8_0, q4_0, q4_k, f16 (also f32, bf16, q5_k, q6_k)")
	out := fs.String("out", "", "output GGUF file (required)")
	seed := fs.Uint64("seed", 1, "random seed of the weights; equal seeds give identical files")
	force := fs.Bool("force", false, "replace the output file if it exists")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *shape == "" || *out == "" {
		fs.Usage()
		return usageError{"model synth needs --shape and --out"}
	}
	sh, err := synth.LookupShape(*shape)
	if err != nil {
		return usageError{err.Error()}
	}
	t, err := synth.ParseType(*typ)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := checkOutput(*out, *force); err != nil {
		return err
	}
	spec := synth.Spec{Shape: sh, Type: t, Seed: *seed}
	start := time.Now()
	if err := atomicfile.Write(*out, func(w io.Writer) error { return synth.Write(w, spec) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s, %s of weights in %s\n", *out, sh.Name, t, bytesize.Format(spec.Size()), time.Since(start).Round(time.Millisecond))
	return nil
}
