package chtest

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/reftrail/reftrail/internal/dev/chlocal"
)

// startLocal starts a chlocal server from argv on a new directory under
// parent (the system's temporary directory when empty) and free ports.
// Another process may take a port between the probe and the server's bind,
// so it tries new ports a few times.
func startLocal(ctx context.Context, argv []string, parent string) (*Server, error) {
	dir, err := os.MkdirTemp(parent, "chtest-")
	if err != nil {
		return nil, fmt.Errorf("creating the server directory: %w", err)
	}
	var lastErr error
	for range 3 {
		var srv *Server
		srv, lastErr = tryStartLocal(ctx, argv, dir)
		if lastErr == nil {
			return srv, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func tryStartLocal(ctx context.Context, argv []string, dir string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	local, err := chlocal.New(argv, dir, chlocal.Ports{Native: ports[0], HTTP: ports[1]})
	if err != nil {
		return nil, err
	}
	if err := local.Start(ctx); err != nil {
		return nil, err
	}
	return &Server{
		Addr:     local.Addr(),
		Username: "default",
		mode:     "local",
		local:    local,
		stop: func() error {
			err := local.Stop()
			if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
				err = fmt.Errorf("removing %s: %w", dir, rmErr)
			}
			return err
		},
	}, nil
}

// freePorts returns n TCP ports of 127.0.0.1 that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
