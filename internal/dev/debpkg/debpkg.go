// Package debpkg decides what to do about Debian packages the development
// tools need: install them when this is a Debian-family system and we are
// root, else name the one command that would. `make run` uses it for
// ClickHouse, `make test` (through internal/dev/testdeps) for what the tests
// use, so that the README's first two commands do all the set-up a fresh
// machine needs.
package debpkg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Host is what the decision needs to know about the machine, a field per
// question so that tests can answer without root or apt.
type Host struct {
	// Debian is true on a Debian-family system (/etc/debian_version exists).
	Debian bool
	// Root is true when the effective user is root.
	Root bool
	// Installed reports whether a package is installed.
	Installed func(pkg string) bool
}

// ThisHost looks at this machine; Installed asks dpkg-query.
func ThisHost() Host {
	_, err := os.Stat("/etc/debian_version")
	return Host{Debian: err == nil, Root: os.Geteuid() == 0, Installed: dpkgInstalled}
}

func dpkgInstalled(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), "install ok installed")
}

// Action is what to do about missing packages.
type Action int

const (
	// Nothing: every package is installed.
	Nothing Action = iota
	// Install: Debian and root, so install them now with Install.
	Install
	// Tell: Debian without root, so print Command for the user to run.
	Tell
	// Unsupported: not Debian; Missing names the Debian packages, and the
	// caller says what the equivalent is.
	Unsupported
)

// Decision is what Decide chose.
type Decision struct {
	Action  Action
	Missing []string
	// Command is the shell command that installs Missing: run as is by
	// Install when root, with sudo for the user otherwise. Empty for Nothing
	// and Unsupported.
	Command string
}

// Decide returns what to do about those of pkgs that h does not have.
func Decide(h Host, pkgs []string) Decision {
	var missing []string
	for _, p := range pkgs {
		if !h.Debian || !h.Installed(p) {
			missing = append(missing, p)
		}
	}
	switch {
	case len(missing) == 0:
		return Decision{Action: Nothing}
	case !h.Debian:
		return Decision{Action: Unsupported, Missing: missing}
	case h.Root:
		return Decision{Action: Install, Missing: missing, Command: "apt-get update && apt-get install -y " + strings.Join(missing, " ")}
	}
	return Decision{Action: Tell, Missing: missing, Command: "sudo apt-get update && sudo apt-get install -y " + strings.Join(missing, " ")}
}

// Run runs apt-get update, then apt-get install -y pkgs, non-interactively,
// their output to log.
func Run(ctx context.Context, pkgs []string, log io.Writer) error {
	for _, args := range [][]string{{"apt-get", "update"}, append([]string{"apt-get", "install", "-y"}, pkgs...)} {
		fmt.Fprintf(log, "$ %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("running %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// ReadList reads a package list: one name a line; blank lines and text after
// # are ignored.
func ReadList(r io.Reader) ([]string, error) {
	var pkgs []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		for f := range strings.FieldsSeq(line) {
			pkgs = append(pkgs, f)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the package list: %w", err)
	}
	if len(pkgs) == 0 {
		return nil, errors.New("reading the package list: it names no package")
	}
	return pkgs, nil
}
