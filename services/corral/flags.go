package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdFlags is a subcommand's flag set with the conventions every
// subcommand shares: messages go to stderr, -h/--help prints the usage and
// exits 0, and a bad flag or a wrong number of arguments is a usage error
// (exit status 2). Define flags on it as on any flag.FlagSet, then call
// parse:
//
//	fs := newFlags("tokenize", stderr, "corral tokenize --model FILE TEXT", "Prints the token ids of TEXT.")
//	model := fs.String("model", "", "GGUF file")
//	if err := fs.parse(args, "TEXT"); err != nil {
//		return err
//	}
type cmdFlags struct {
	*flag.FlagSet
	name     string
	stderr   io.Writer
	synopsis string
	// hideArgs makes errors count stray arguments instead of quoting them,
	// for commands where one may be a secret typed in the wrong place.
	hideArgs bool
}

// newFlags returns the flag set of the subcommand name. synopsis is the
// command line (without "usage: "); about, when not empty, says in a
// sentence or two what the command does.
func newFlags(name string, stderr io.Writer, synopsis, about string) *cmdFlags {
	f := &cmdFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), name: name, stderr: stderr, synopsis: synopsis}
	f.SetOutput(stderr)
	f.Usage = func() {
		fmt.Fprintln(stderr, "usage:", synopsis)
		if about != "" {
			fmt.Fprintln(stderr, about)
		}
		f.PrintDefaults()
	}
	return f
}

// parse parses args and checks that exactly the positional arguments named
// in want remain: none when want is empty. It returns flag.ErrHelp for
// -h/--help and a usage error for everything else that is wrong.
func (f *cmdFlags) parse(args []string, want ...string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if f.NArg() == len(want) {
		return nil
	}
	fmt.Fprintln(f.stderr, "usage:", f.synopsis)
	if len(want) == 0 && f.hideArgs {
		return usageError{fmt.Sprintf("%s takes no arguments, got %s", f.name, plural(f.NArg(), "argument"))}
	}
	if len(want) == 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", f.name, f.Args())}
	}
	return usageError{fmt.Sprintf("%s needs %s, got %s", f.name, strings.Join(want, " and "), plural(f.NArg(), "argument"))}
}

// plural says "1 argument", "2 arguments".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// dispatch runs the subcommand of `corral NAME` that args start with. With
// no subcommand it lists them and fails with a usage error; with help,
// -h or --help it lists them and returns flag.ErrHelp.
func dispatch(ctx context.Context, name string, set map[string]command, args []string, stdout, stderr io.Writer) error {
	header := fmt.Sprintf("usage: corral %s <subcommand> [flags]\nsubcommands:", name)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		listCommands(stderr, header, set)
		if len(args) == 0 {
			return usageError{name + " needs a subcommand"}
		}
		return flag.ErrHelp
	}
	cmd, ok := set[args[0]]
	if !ok {
		listCommands(stderr, header, set)
		return usageError{fmt.Sprintf("unknown %s subcommand %q", name, args[0])}
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}
