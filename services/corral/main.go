// Command corral is Corral's one binary: `corral serve` runs every role in
// one process, `corral ROLE` runs one role alone, and the tools have
// subcommands of their own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run gets the arguments after the command's name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// tools lists the subcommands that are not roles; each lives in a file of
// its own name. The roles' subcommands come from roles (roles.go).
var tools = map[string]command{
	"serve": {"run every role in one process (the default)", runServe},

	"convert": {"convert a model file to GGUF (--from llama2c)", runConvert},
	"model":   {"inspect or synthesise GGUF models (model info FILE, model synth --shape S --type T --out FILE)", runModel},

	"generate": {"generate text with a GGUF model (--model FILE --prompt TEXT)", runGenerate},
	"bench":    {"measure prompt and generation speed of a GGUF model (JSON)", runBench},
	"tokenize": {"print the token ids of a text (--model FILE [--no-bos] [--special] TEXT)", runTokenize},
	"safety":   {"check texts with the safety stage or train its classifier (safety classify | safety train)", runSafety},

	"creator": {"manage creator accounts and their API tokens (creator add NAME | list | revoke ID | token ID)", runCreator},
	"channel": {"manage channels, the WhatsApp numbers and Messenger pages personas answer on (channel add | list | bind | remove | keygen)", runChannel},

	"loadgen": {"load a deployment with simulated WhatsApp and Messenger users, or an OpenAI-compatible engine (--engine), and report latency, lost and duplicated replies", runLoadgen},

	"version": {"print the version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal starts a graceful shutdown, a second one gets
	// the default behaviour and ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "corral:", err)
	}
	os.Exit(exitCode(err))
}

// usageError marks a mistake in the command line or the configuration
// (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode is the process's exit status for err: 0 for none or a request
// for help, 2 for a usage error, an error's own ExitCode when it has one
// (loadgen's missed objectives: 3), 1 for anything else that went wrong
// while running.
func exitCode(err error) int {
	var ue usageError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			printUsage(stdout)
			return nil
		case "-version", "--version":
			return runVersion(ctx, args[1:], stdout, stderr)
		}
	}
	name := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		name, args = args[0], args[1:]
	}
	cmd, ok := commands()[name]
	if !ok {
		printUsage(stderr)
		return usageError{fmt.Sprintf("unknown command %q", name)}
	}
	return cmd.run(ctx, args, stdout, stderr)
}

// commands is every subcommand: the tools and one per role.
func commands() map[string]command {
	all := make(map[string]command, len(tools)+len(roles))
	for n, c := range tools {
		all[n] = c
	}
	for n, c := range roleCommands() {
		if _, dup := all[n]; dup {
			panic("corral: role named like a command: " + n)
		}
		all[n] = c
	}
	return all
}

func printUsage(w io.Writer) {
	listCommands(w, "usage: corral [command] [flags]   (no command means serve; corral COMMAND --help for its flags)\ncommands:", tools)
	listCommands(w, "roles (corral ROLE runs one alone, on the backends it needs; serve runs them all):", roleCommands())
}

// listCommands prints a header and the commands of set, sorted by name.
func listCommands(w io.Writer, header string, set map[string]command) {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, header)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, set[n].summary)
	}
}
