// Command testdeps gets the Debian packages the tests use (listed in
// .ci/test-packages) before `make test` runs them: as root on a
// Debian-family system it installs the missing ones, saying so in one line
// and writing apt-get's output to a log; otherwise it prints the one command
// that would, and the tests that need them skip. With CI set, missing
// packages it cannot install are an error, since CI must not pass by
// skipping.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/reftrail/reftrail/internal/dev/debpkg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testdeps:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("testdeps", flag.ContinueOnError)
	flags.SetOutput(stderr)
	list := flags.String("packages", ".ci/test-packages", "`file` listing the Debian packages the tests use")
	logPath := flags.String("log", ".reftrail/logs/apt-get.log", "`file` apt-get's output is appended to")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag", flags.Args())
	}
	f, err := os.Open(*list)
	if err != nil {
		return fmt.Errorf("opening the package list: %w", err)
	}
	pkgs, err := debpkg.ReadList(f)
	f.Close()
	if err != nil {
		return err
	}
	d := debpkg.Decide(debpkg.ThisHost(), pkgs)
	return act(ctx, d, getenv("CI") != "", *logPath, stdout, debpkg.Run)
}

// act carries out d: install through install with its output appended to
// logPath, or tell the user what to run. With ci, packages left missing are
// an error.
func act(ctx context.Context, d debpkg.Decision, ci bool, logPath string, stdout io.Writer, install func(context.Context, []string, io.Writer) error) error {
	missing := strings.Join(d.Missing, " ")
	var problem string
	switch d.Action {
	case debpkg.Nothing:
		return nil
	case debpkg.Install:
		fmt.Fprintf(stdout, "testdeps: installing the Debian packages the tests use: %s (apt-get's output in %s)\n", missing, logPath)
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return fmt.Errorf("creating the log directory: %w", err)
		}
		log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening the log: %w", err)
		}
		defer log.Close()
		if err := install(ctx, d.Missing, log); err != nil {
			return fmt.Errorf("installing %s: %w (see %s)", missing, err, logPath)
		}
		return nil
	case debpkg.Tell:
		problem = fmt.Sprintf("the tests that need %s skip without them; install them with:\n  %s", missing, d.Command)
	case debpkg.Unsupported:
		problem = fmt.Sprintf("not a Debian-family system: the tests that need %s (Debian's names) skip unless you install this system's equivalents", missing)
	}
	if ci {
		return errors.New("CI is set and " + problem)
	}
	fmt.Fprintln(stdout, "testdeps: "+problem)
	return nil
}
