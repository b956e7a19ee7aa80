// Command probe is the health check of reftrail's container images: it GETs
// one URL and exits 0 when the answer is 200 OK, 1 otherwise. The images are
// distroless, with no shell, curl or wget, so compose runs it as
// ["CMD", "/probe", "http://127.0.0.1:8080/readyz"]. On failure it prints the
// status and the start of the body, which is where /readyz says what is not
// reachable; Docker keeps that output in the container's health log.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// timeout bounds the whole probe. It stays above the 2 s a service's /readyz
// allows its own dependency check and under the 5 s timeout compose gives the
// health check, so a hung service fails the probe instead of hanging it.
const timeout = 4 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: probe URL")
	}
	url := args[0]
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("getting %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
