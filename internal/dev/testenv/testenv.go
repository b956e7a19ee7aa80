// Package testenv holds what reftrail's tests share about their environment:
// the rule that a missing dependency skips a test locally but fails it in CI,
// free local addresses for services under test, and the sizes benchmarks read
// from the environment.
package testenv

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// Unavailable skips t because a dependency is missing, or fails it when the CI
// environment variable is set: CI must never pass by skipping.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, so a missing dependency fails: "+format, args...)
	}
	t.Skipf(format, args...)
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago,
// for a service under test to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// PositiveInt reads the positive integer in the environment variable name,
// or returns def when it is unset; any other value fails t.
func PositiveInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
