//go:build !unix

package chlocal

import (
	"errors"
	"time"
)

// FindBinary reports that local servers are not supported: stopping one by
// its process group needs a Unix system.
func FindBinary() ([]string, error) {
	return nil, errors.New("running a local clickhouse-server needs a Unix system")
}

// process is never created on this system.
type process struct {
	done chan struct{}
}

func startProcess([]string, string) (*process, error) { return nil, errors.ErrUnsupported }
func (*process) pid() int                             { return 0 }
func (*process) stop(time.Duration) error             { return errors.ErrUnsupported }
func runsConfig(int, string) bool                     { return false }
func stopPid(int, time.Duration) error                { return errors.ErrUnsupported }
func parentOf(int) (int, string)                      { return 0, "" }
