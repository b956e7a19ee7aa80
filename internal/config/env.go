// Package config reads service settings from environment variables. Every
// reader remembers the first bad setting, so a service validates its whole
// configuration before it opens a connection and stops with one line naming
// the variable to change.
package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads settings through getenv (os.Getenv in production, a map in tests).
// The zero value is not usable; build one with NewEnv.
type Env struct {
	getenv func(string) string
	err    error
}

// NewEnv returns an Env reading through getenv.
func NewEnv(getenv func(string) string) *Env {
	return &Env{getenv: getenv}
}

// Err returns the first invalid setting seen, or nil.
func (e *Env) Err() error { return e.err }

// Fail records a problem with the setting name unless an earlier one was seen.
// Services use it for cross-field rules. The error quotes the value (with a
// URL's password replaced), so never fail a secret that is set: name the
// setting it conflicts with instead.
func (e *Env) Fail(name, format string, args ...any) {
	if e.err == nil {
		e.err = &SettingError{Name: name, Value: redactURL(e.getenv(name)), Problem: fmt.Sprintf(format, args...)}
	}
}

// redactURL returns v with the password of a URL's user information replaced,
// so that an error about SCHEMA_REGISTRY_URL=https://user:pass@host does not
// print the password.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	if i, j := strings.Index(v, "://"), strings.LastIndex(v, "@"); i >= 0 && j > i {
		// Not parsable as a URL, yet shaped like one with credentials.
		return v[:i+3] + "xxxxx" + v[j:]
	}
	return v
}

// SettingError names one invalid setting and what is wrong with it.
type SettingError struct {
	Name    string
	Value   string
	Problem string
}

func (e *SettingError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("setting %s: %s", e.Name, e.Problem)
	}
	return fmt.Sprintf("setting %s=%q: %s", e.Name, e.Value, e.Problem)
}

func (e *Env) lookup(name string) string {
	return strings.TrimSpace(e.getenv(name))
}

// String returns the variable, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v := e.lookup(name); v != "" {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset or
// empty. Like Secret, it reads the value from the file named by NAME_FILE
// instead when that is set, and never repeats the value in an error, since
// required settings are often secrets. Spaces around the value are trimmed.
func (e *Env) Required(name string) string {
	v := strings.TrimSpace(e.Secret(name))
	if v == "" && e.err == nil {
		e.err = &SettingError{Name: name, Problem: "required but not set"}
	}
	return v
}

// Secret returns the variable as it is, not trimmed (a password may end in a
// space), or "" when it is unset. When NAME_FILE is set instead, the value is
// that file's contents without one trailing line break, as container
// platforms mount secrets; setting both is an error, and so is a file that
// cannot be read. The value never appears in an error.
func (e *Env) Secret(name string) string {
	v := e.getenv(name)
	file := e.lookup(name + "_FILE")
	switch {
	case file == "":
		return v
	case v != "":
		e.Fail(name+"_FILE", "set, but so is %s: set only one", name)
		return ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		e.Fail(name+"_FILE", "cannot be read: %v", err)
		return ""
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

// List splits a comma-separated variable, trimming spaces and dropping empty
// items; def is returned when the variable is unset or empty.
func (e *Env) List(name string, def []string) []string {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Int parses a decimal integer within [min, max].
func (e *Env) Int(name string, def, min, max int64) int64 {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		e.Fail(name, "not an integer")
	case n < min || n > max:
		e.Fail(name, "must be between %d and %d", min, max)
	default:
		return n
	}
	return def
}

// Duration parses a Go duration string ("500ms", "3s") within [min, max].
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		e.Fail(name, "not a Go duration such as 500ms or 3s")
	case d < min || d > max:
		e.Fail(name, "must be between %s and %s", min, max)
	default:
		return d
	}
	return def
}

// Bool parses true/false (and the other spellings strconv.ParseBool accepts).
func (e *Env) Bool(name string, def bool) bool {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "must be true or false")
		return def
	}
	return b
}

// OneOf returns the variable when it is one of allowed (case-insensitive, in
// the spelling of allowed), def when unset, and records an error otherwise.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := e.lookup(name)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	e.Fail(name, "must be one of %s", strings.Join(allowed, ", "))
	return def
}
