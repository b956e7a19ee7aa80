package chtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/reftrail/reftrail/internal/dev/chlocal"
)

// defaultImage is the image of the container mode, a current LTS release;
// CHTEST_IMAGE overrides it.
const defaultImage = "clickhouse/clickhouse-server:25.8"

// dockerHealthy says whether a Docker daemon answers. testcontainers panics on
// some broken setups; that counts as no Docker.
func dockerHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers panicked: %v", r)
		}
	}()
	provider, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return fmt.Errorf("getting the Docker provider: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("reaching the Docker daemon: %w", err)
	}
	return nil
}

// startContainer runs a ClickHouse container, removed by Server.stop (or by
// testcontainers' reaper if the test binary dies).
func startContainer(ctx context.Context) (*Server, error) {
	image := os.Getenv("CHTEST_IMAGE")
	if image == "" {
		image = defaultImage
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image,
			ExposedPorts: []string{"9000/tcp"},
			// Without it, current images let the passwordless default user
			// connect only from inside the container.
			Env:        map[string]string{"CLICKHOUSE_SKIP_USER_SETUP": "1"},
			WaitingFor: wait.ForListeningPort("9000/tcp").WithStartupTimeout(3 * time.Minute),
		},
		Started: true,
	})
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("starting container %s: %w", image, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("finding the host of container %s: %w", image, err)
	}
	port, err := c.MappedPort(ctx, "9000/tcp")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("finding the port of container %s: %w", image, err)
	}
	srv := &Server{
		Addr:     net.JoinHostPort(host, port.Port()),
		Username: "default",
		mode:     "container",
		stop: func() error {
			if err := testcontainers.TerminateContainer(c); err != nil {
				return fmt.Errorf("terminating container %s: %w", image, err)
			}
			return nil
		},
	}
	if err := chlocal.WaitReady(ctx, srv.Addr, srv.Username, srv.Password, chlocal.ReadyTimeout, nil); err != nil {
		_ = srv.stop()
		return nil, fmt.Errorf("waiting for container %s: %w", image, err)
	}
	return srv, nil
}
