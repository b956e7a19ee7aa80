package main

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "defaults: loopback without a token", env: nil},
		{name: "localhost without a token", env: map[string]string{"CONSOLE_ADDR": "localhost:8090"}},
		{name: "IPv6 loopback without a token", env: map[string]string{"CONSOLE_ADDR": "[::1]:8090"}},
		{name: "every interface needs a token", env: map[string]string{"CONSOLE_ADDR": ":8090"},
			wantErr: "setting CONSOLE_TOKEN: required when CONSOLE_ADDR is not a loopback address (it is :8090)"},
		{name: "a public address needs a token", env: map[string]string{"CONSOLE_ADDR": "10.0.0.5:8090"},
			wantErr: "setting CONSOLE_TOKEN: required when CONSOLE_ADDR is not a loopback address (it is 10.0.0.5:8090)"},
		{name: "every interface with a token", env: map[string]string{"CONSOLE_ADDR": ":8090", "CONSOLE_TOKEN": "s3cret-s3cret-s3cret"}},
		{name: "address without a port", env: map[string]string{"CONSOLE_ADDR": "127.0.0.1"},
			wantErr: `setting CONSOLE_ADDR="127.0.0.1": must be host:port, such as 127.0.0.1:8090`},
		{name: "public URL", env: map[string]string{"CONSOLE_PUBLIC_URL": "https://console.example.com"}},
		{name: "public URL with a path", env: map[string]string{"CONSOLE_PUBLIC_URL": "https://example.com/console"},
			wantErr: `setting CONSOLE_PUBLIC_URL="https://example.com/console": must be a scheme and host such as https://console.example.com, without a path`},
		{name: "public URL without scheme", env: map[string]string{"CONSOLE_PUBLIC_URL": "console.example.com"},
			wantErr: `setting CONSOLE_PUBLIC_URL="console.example.com": must be a scheme and host`},
		{name: "bad ClickHouse address", env: map[string]string{"CLICKHOUSE_ADDR": "clickhouse"},
			wantErr: `setting CLICKHOUSE_ADDR="clickhouse": must be host:port`},
		{name: "bad database", env: map[string]string{"CLICKHOUSE_DATABASE": "a-b"},
			wantErr: `setting CLICKHOUSE_DATABASE="a-b": must be letters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configFromEnv(func(k string) string { return tt.env[k] })
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("configFromEnv: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("configFromEnv error = %v, want it to start with %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigNeverQuotesTheToken(t *testing.T) {
	const token = "do-not-print-me-1234"
	_, err := configFromEnv(func(k string) string {
		return map[string]string{"CONSOLE_TOKEN": token, "CONSOLE_ADDR": "nope"}[k]
	})
	if err == nil {
		t.Fatal("want an error for CONSOLE_ADDR")
	}
	if got := err.Error(); strings.Contains(got, token) {
		t.Errorf("error %q repeats the token", got)
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"/campaigns?by=ref":     "/campaigns?by=ref",
		"":                      "/overview",
		"https://evil.example/": "/overview",
		"//evil.example/":       "/overview",
		`/\evil.example`:        "/overview",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
