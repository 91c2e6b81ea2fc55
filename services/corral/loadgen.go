package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/corral-ai/corral/services/loadgen"
)

// runLoadgen is `corral loadgen`: load a deployment like WhatsApp and
// Messenger do, or an OpenAI-compatible engine (--engine), and report.
// Exit status 3 means the run missed an objective of --slo.
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := loadgen.ParseArgs(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case errors.Is(err, loadgen.ErrScenario):
		return usageError{err.Error()}
	case err != nil:
		return err
	}
	_, err = loadgen.Main(ctx, o, stdout, stderr)
	return err
}
