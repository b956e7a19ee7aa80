package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/chlocal"
)

func TestChooseClickHouse(t *testing.T) {
	noBinary := errors.New("neither clickhouse-server nor clickhouse is on PATH")
	binary := []string{"/usr/sbin/clickhouse-server"}
	installing := "ClickHouse: none on this machine; installing Debian's clickhouse-server and clickhouse-client with apt-get (its output in .reftrail/logs/apt-get.log)\n"
	tests := []struct {
		name      string
		env       map[string]string
		hasBinary bool
		docker    bool
		debian    bool
		root      bool
		noInstall bool // -install=false
		// installErr fails the installation; a successful one puts the
		// binary on PATH.
		installErr  error
		want        clickhouseChoice
		wantInstall bool
		wantOut     string
		wantErr     []string
	}{
		{
			name:      "CLICKHOUSE_ADDR wins over a binary",
			env:       map[string]string{"CLICKHOUSE_ADDR": "ch.internal:9440"},
			hasBinary: true,
			want:      clickhouseChoice{addr: "ch.internal:9440"},
		},
		{
			name:      "binary on PATH",
			hasBinary: true, docker: true, debian: true, root: true,
			want: clickhouseChoice{argv: binary},
		},
		{
			name:   "none, Debian, root: installs",
			debian: true, root: true,
			want:        clickhouseChoice{argv: binary},
			wantInstall: true,
			wantOut:     installing,
		},
		{
			name:   "none, Debian, root, install fails",
			debian: true, root: true,
			installErr:  errors.New("running apt-get update: exit status 100"),
			wantInstall: true,
			wantOut:     installing,
			wantErr:     []string{"installing ClickHouse: running apt-get update: exit status 100 (see .reftrail/logs/apt-get.log)"},
		},
		{
			name:   "none, Debian, root, -install=false",
			debian: true, root: true, noInstall: true,
			wantErr: []string{"sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client"},
		},
		{
			name:   "none, Debian, not root, Docker answers",
			debian: true, docker: true,
			wantErr: []string{
				"no ClickHouse: CLICKHOUSE_ADDR is not set and neither clickhouse-server nor clickhouse is on PATH",
				"then make run again:\n  sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client",
			},
		},
		{
			name:   "none, not Debian, Docker answers",
			docker: true, root: true,
			wantErr: []string{
				"docker run -d --name reftrail-clickhouse -p 127.0.0.1:9000:9000 -p 127.0.0.1:8123:8123 -e CLICKHOUSE_SKIP_USER_SETUP=1 -v reftrail-clickhouse:/var/lib/clickhouse " + clickhouseImage,
				"CLICKHOUSE_ADDR=127.0.0.1:9000 make run",
			},
		},
		{
			name:    "none, elsewhere",
			root:    true,
			wantErr: []string{"curl https://clickhouse.com/ | sh", "set CLICKHOUSE_ADDR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hasBinary, installed := tt.hasBinary, false
			h := host{
				findBinary: func() ([]string, error) {
					if hasBinary {
						return binary, nil
					}
					return nil, noBinary
				},
				dockerAnswers: func(context.Context) bool { return tt.docker },
				debian:        tt.debian,
				root:          tt.root,
				aptLog:        ".reftrail/logs/apt-get.log",
				install: func(context.Context) error {
					installed = true
					hasBinary = tt.installErr == nil
					return tt.installErr
				},
			}
			var out strings.Builder
			got, err := chooseClickHouse(t.Context(), func(k string) string { return tt.env[k] }, h, !tt.noInstall, chlocal.Ports{Native: 9000, HTTP: 8123}, &out)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("chooseClickHouse: %v, want no error", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("chooseClickHouse error %v, want one containing %q", err, want)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(clickhouseChoice{})); diff != "" {
				t.Errorf("chooseClickHouse (-want +got):\n%s", diff)
			}
			if installed != tt.wantInstall {
				t.Errorf("installed = %v, want %v", installed, tt.wantInstall)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestPrintUsage(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		defaults    map[string]string // the development defaults devstack filled in
		ingestAddr  string
		consoleAddr string
		chAddr      string
		want        []string
	}{
		{
			name:        "defaults",
			defaults:    devDefaults,
			ingestAddr:  "127.0.0.1:8080",
			consoleAddr: "127.0.0.1:8090",
			chAddr:      "127.0.0.1:9000",
			want: []string{
				"Webhooks: http://127.0.0.1:8080/webhook",
				"Console: http://127.0.0.1:8090/links (links, QR codes and campaign funnels; no sign-in on this machine)",
				"verify token: dev-verify-token",
				"app secrets:  dev-app-secret",
				"clickhouse-client --host 127.0.0.1 --port 9000 --database reftrail --query",
				"in another terminal, make demo sends",
				"bin/reftrailctl query lists the dashboard queries",
			},
		},
		{
			name: "moved ports, a ClickHouse user, the user's own Meta secrets",
			env: map[string]string{"CLICKHOUSE_DATABASE": "rt", "CLICKHOUSE_USERNAME": "ana", "CLICKHOUSE_PASSWORD": "s3cret",
				"META_APP_SECRETS": "s3cret-app", "META_VERIFY_TOKEN": "s3cret-token", "CONSOLE_TOKEN": "s3cret-console"},
			defaults:    map[string]string{},
			ingestAddr:  "127.0.0.1:18080",
			consoleAddr: "127.0.0.1:18090",
			chAddr:      "127.0.0.1:19000",
			want: []string{
				`clickhouse-client --host 127.0.0.1 --port 19000 --user ana --password "$CLICKHOUSE_PASSWORD" --database rt`,
				"CLICKHOUSE_ADDR=127.0.0.1:19000 make demo DEMO_FLAGS='-url http://127.0.0.1:18080/webhook'",
				"verify token: from META_VERIFY_TOKEN (not printed)",
				"app secrets:  from META_APP_SECRETS (not printed)",
				"Console: http://127.0.0.1:18090/links (links, QR codes and campaign funnels; sign in with CONSOLE_TOKEN (not printed))",
				"CLICKHOUSE_ADDR=127.0.0.1:19000 bin/reftrailctl query funnel from=7d",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			printUsage(&out, func(k string) string { return tt.env[k] }, tt.defaults, tt.ingestAddr, tt.consoleAddr, tt.chAddr)
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "s3cret") {
				t.Errorf("output shows a secret the user set:\n%s", out.String())
			}
		})
	}
}
