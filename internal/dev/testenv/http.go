package testenv

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WaitReadyz polls url's /readyz until it answers want, failing t after
// timeout.
func WaitReadyz(t testing.TB, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := 0
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if got = resp.StatusCode; got == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/readyz answered %d for %v, want %d", url, got, timeout, want)
}

// Scrape returns url's /metrics exposition, failing t if it cannot be read.
func Scrape(t testing.TB, url string) string {
	t.Helper()
	m, err := TryScrape(url)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TryScrape is Scrape for a server that may not listen yet.
func TryScrape(url string) (string, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Metric sums the series of the named metric in a Prometheus text
// exposition whose lines contain every one of labels (e.g. `table="events"`).
func Metric(exposition, name string, labels ...string) float64 {
	var sum float64
	for line := range strings.SplitSeq(exposition, "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil && match {
			sum += v
		}
	}
	return sum
}
