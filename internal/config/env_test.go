package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func envOf(m map[string]string) *Env {
	return NewEnv(func(k string) string { return m[k] })
}

func TestEnvReadsValidSettings(t *testing.T) {
	e := envOf(map[string]string{
		"S": " value ", "L": "a, b,,c ", "I": "42", "D": "500ms", "B": "true", "O": "scram-sha-256",
	})
	if got := e.String("S", "def"); got != "value" {
		t.Errorf("String = %q, want %q", got, "value")
	}
	if got := e.String("UNSET", "def"); got != "def" {
		t.Errorf("String(unset) = %q, want %q", got, "def")
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, e.List("L", nil)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := e.Int("I", 1, 0, 100); got != 42 {
		t.Errorf("Int = %d, want 42", got)
	}
	if got := e.Duration("D", time.Second, time.Millisecond, time.Minute); got != 500*time.Millisecond {
		t.Errorf("Duration = %s, want 500ms", got)
	}
	if got := e.Bool("B", false); !got {
		t.Errorf("Bool = false, want true")
	}
	if got := e.OneOf("O", "", "PLAIN", "SCRAM-SHA-256"); got != "SCRAM-SHA-256" {
		t.Errorf("OneOf = %q, want SCRAM-SHA-256", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v, want nil", err)
	}
}

func TestEnvNamesTheFirstBadSetting(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		read func(*Env)
		want string
	}{
		{
			name: "required missing",
			read: func(e *Env) { e.Required("META_VERIFY_TOKEN") },
			want: "setting META_VERIFY_TOKEN: required but not set",
		},
		{
			name: "bad duration",
			vars: map[string]string{"PRODUCE_TIMEOUT": "3"},
			read: func(e *Env) { e.Duration("PRODUCE_TIMEOUT", time.Second, time.Millisecond, time.Minute) },
			want: `setting PRODUCE_TIMEOUT="3": not a Go duration such as 500ms or 3s`,
		},
		{
			name: "duration out of range",
			vars: map[string]string{"PRODUCE_TIMEOUT": "9s"},
			read: func(e *Env) { e.Duration("PRODUCE_TIMEOUT", time.Second, time.Millisecond, 4*time.Second) },
			want: `setting PRODUCE_TIMEOUT="9s": must be between 1ms and 4s`,
		},
		{
			name: "bad int",
			vars: map[string]string{"MAX_BODY_BYTES": "4MiB"},
			read: func(e *Env) { e.Int("MAX_BODY_BYTES", 1, 1, 10) },
			want: `setting MAX_BODY_BYTES="4MiB": not an integer`,
		},
		{
			name: "int out of range",
			vars: map[string]string{"BATCH_ROWS": "0"},
			read: func(e *Env) { e.Int("BATCH_ROWS", 1, 1, 10) },
			want: `setting BATCH_ROWS="0": must be between 1 and 10`,
		},
		{
			name: "bad bool",
			vars: map[string]string{"KAFKA_TLS": "yes please"},
			read: func(e *Env) { e.Bool("KAFKA_TLS", false) },
			want: `setting KAFKA_TLS="yes please": must be true or false`,
		},
		{
			name: "not one of",
			vars: map[string]string{"LOG_LEVEL": "loud"},
			read: func(e *Env) { e.OneOf("LOG_LEVEL", "info", "debug", "info") },
			want: `setting LOG_LEVEL="loud": must be one of debug, info`,
		},
		{
			name: "first error wins",
			vars: map[string]string{"A": "x", "B": "y"},
			read: func(e *Env) {
				e.Int("A", 0, 0, 1)
				e.Int("B", 0, 0, 1)
			},
			want: `setting A="x": not an integer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := envOf(tt.vars)
			tt.read(e)
			err := e.Err()
			if err == nil {
				t.Fatalf("Err = nil, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Err = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSecretFromFile checks <NAME>_FILE: the value comes from the file (one
// trailing line break dropped, other spaces kept), Required accepts it, and
// setting both or naming an unreadable file stops the service without
// printing a secret.
func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := file("pw", "s3cret \n")
	tests := []struct {
		name     string
		env      map[string]string
		read     func(*Env) string
		want     string
		wantErr  string
		notInErr string
	}{
		{name: "secret from file", env: map[string]string{"CLICKHOUSE_PASSWORD_FILE": pw}, read: func(e *Env) string { return e.Secret("CLICKHOUSE_PASSWORD") }, want: "s3cret "},
		{name: "secret from variable", env: map[string]string{"CLICKHOUSE_PASSWORD": " pw"}, read: func(e *Env) string { return e.Secret("CLICKHOUSE_PASSWORD") }, want: " pw"},
		{name: "required from file", env: map[string]string{"META_APP_SECRETS_FILE": file("apps", "a,b\n")}, read: func(e *Env) string { return e.Required("META_APP_SECRETS") }, want: "a,b"},
		{name: "required, empty file", env: map[string]string{"META_VERIFY_TOKEN_FILE": file("empty", "\n")}, read: func(e *Env) string { return e.Required("META_VERIFY_TOKEN") },
			wantErr: "setting META_VERIFY_TOKEN: required but not set"},
		{name: "both set", env: map[string]string{"KAFKA_SASL_PASSWORD": "inline-secret", "KAFKA_SASL_PASSWORD_FILE": pw}, read: func(e *Env) string { return e.Secret("KAFKA_SASL_PASSWORD") },
			wantErr: `setting KAFKA_SASL_PASSWORD_FILE="` + pw + `": set, but so is KAFKA_SASL_PASSWORD: set only one`, notInErr: "inline-secret"},
		{name: "unreadable file", env: map[string]string{"NOTIFY_SECRET_FILE": filepath.Join(dir, "missing")}, read: func(e *Env) string { return e.Secret("NOTIFY_SECRET") },
			wantErr: `setting NOTIFY_SECRET_FILE="` + filepath.Join(dir, "missing") + `": cannot be read: open ` + filepath.Join(dir, "missing") + `: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := envOf(tt.env)
			got := tt.read(e)
			if tt.wantErr != "" {
				err := e.Err()
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Err = %v, want %q", err, tt.wantErr)
				}
				if tt.notInErr != "" && strings.Contains(err.Error(), tt.notInErr) {
					t.Errorf("Err %q repeats the secret", err)
				}
				return
			}
			if err := e.Err(); err != nil {
				t.Fatalf("Err = %v", err)
			}
			if got != tt.want {
				t.Errorf("value = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFailRedactsURLPasswords(t *testing.T) {
	e := envOf(map[string]string{"SCHEMA_REGISTRY_URL": "ftp://reftrail:hunter2@registry:8081"})
	e.Fail("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL")
	if err := e.Err(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Err = %v, want the password left out", err)
	}
}
