package config

import (
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
