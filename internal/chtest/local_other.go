//go:build !unix

package chtest

import (
	"context"
	"errors"
)

// findBinary reports that local servers are not supported: stopping one by its
// process group needs a Unix system.
func findBinary() ([]string, error) {
	return nil, errors.New("running a local clickhouse-server needs a Unix system")
}

// process is the local-server process, never created on this system.
type process struct{}

func startLocal(context.Context, []string) (*Server, error) { return nil, errors.ErrUnsupported }
func (*process) start() error                               { return errors.ErrUnsupported }
func (*process) stop() error                                { return errors.ErrUnsupported }
func (*process) exited() <-chan struct{}                    { return nil }
func (*process) logTail() string                            { return "" }
