package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand: args are what follows its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, env environment) error
}

// environment is what every subcommand gets from run.
type environment struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

var commands = map[string]command{
	"query":     {"run a dashboard query: query NAME [name=value ...]", runQuery},
	"replay":    {"derive events again: replay raw --from T --to T | replay dlq [--reason R]", runReplay},
	"deletions": {"Meta's data deletion requests: deletions process | deletions list", runDeletions},
	"links":     {"the links catalog and QR codes: links create | list | qr REF", runLinks},
	"erase":     {"remove one person's rows: erase --platform P --account A --participant ID", runErase},
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := environment{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no command named")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.run(ctx, args[1:], env)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: reftrailctl COMMAND [flags] [arguments]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nSettings come from the services' environment variables; see docs/operations.md.")
}

// newFlags returns a flag set for a subcommand that prints its usage line and
// flags on stderr.
func newFlags(name, usageLine string, env environment) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: reftrailctl %s\n", usageLine)
		var has bool
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(env.stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, treating -h as success with nothing to do (false).
func parseFlags(fs *flag.FlagSet, args []string) (bool, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// unexpected refuses positional arguments a subcommand does not take.
func unexpected(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags go before arguments)", strings.Join(fs.Args(), " "))
	}
	return nil
}
