package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reftrail/reftrail/internal/dev/debpkg"
)

func TestAct(t *testing.T) {
	install := debpkg.Decision{Action: debpkg.Install, Missing: []string{"kcat", "zbar-tools"}, Command: "apt-get update && apt-get install -y kcat zbar-tools"}
	tell := debpkg.Decision{Action: debpkg.Tell, Missing: []string{"kcat"}, Command: "sudo apt-get update && sudo apt-get install -y kcat"}
	unsupported := debpkg.Decision{Action: debpkg.Unsupported, Missing: []string{"kcat"}}
	tests := []struct {
		name       string
		decision   debpkg.Decision
		ci         bool
		installErr error
		wantRun    []string // the packages install was called with
		wantOut    string
		wantErr    string
		wantLog    string
	}{
		{name: "nothing missing", decision: debpkg.Decision{Action: debpkg.Nothing}},
		{
			name: "install", decision: install, wantRun: []string{"kcat", "zbar-tools"},
			wantOut: "testdeps: installing the Debian packages the tests use: kcat zbar-tools (apt-get's output in ",
			wantLog: "apt-get says hello",
		},
		{
			name: "install fails", decision: install, installErr: errors.New("running apt-get update: exit status 100"), wantRun: []string{"kcat", "zbar-tools"},
			wantOut: "testdeps: installing the Debian packages the tests use: kcat zbar-tools",
			wantErr: "installing kcat zbar-tools: running apt-get update: exit status 100 (see ",
		},
		{name: "tell", decision: tell, wantOut: "skip without them; install them with:\n  sudo apt-get update && sudo apt-get install -y kcat\n"},
		{name: "tell in CI", decision: tell, ci: true, wantErr: "CI is set and the tests that need kcat skip"},
		{name: "not Debian", decision: unsupported, wantOut: "not a Debian-family system: the tests that need kcat (Debian's names) skip"},
		{name: "not Debian in CI", decision: unsupported, ci: true, wantErr: "CI is set and not a Debian-family system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "logs", "apt-get.log")
			var ran []string
			fake := func(_ context.Context, pkgs []string, log io.Writer) error {
				ran = pkgs
				fmt.Fprintln(log, "apt-get says hello")
				return tt.installErr
			}
			var out strings.Builder
			err := act(t.Context(), tt.decision, tt.ci, logPath, &out, fake)
			if tt.wantErr == "" && err != nil {
				t.Errorf("act: %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("act error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) || (tt.wantOut == "" && out.Len() > 0) {
				t.Errorf("output %q, want %q", out.String(), tt.wantOut)
			}
			if strings.Join(ran, " ") != strings.Join(tt.wantRun, " ") {
				t.Errorf("installed %q, want %q", ran, tt.wantRun)
			}
			log, _ := os.ReadFile(logPath)
			if !strings.Contains(string(log), tt.wantLog) || strings.Contains(out.String(), "apt-get says") {
				t.Errorf("apt-get's output went to the terminal or not to the log: log %q, out %q", log, out.String())
			}
		})
	}
}

func TestRunReadsTheSharedList(t *testing.T) {
	// The list .ci/run and make test share must parse and keep what the
	// tests of this repository and the console need.
	f, err := os.Open("../../../.ci/test-packages")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := debpkg.ReadList(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"clickhouse-server", "clickhouse-client", "python3-avro", "libavro-java", "kcat", "zbar-tools", "librsvg2-bin", "chromium", "zookeeper"} {
		found := false
		for _, p := range pkgs {
			found = found || p == want
		}
		if !found {
			t.Errorf(".ci/test-packages lacks %s: %v", want, pkgs)
		}
	}
}
