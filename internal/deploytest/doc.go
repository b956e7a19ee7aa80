// Package deploytest checks reftrail's deployment files where no Docker engine
// runs: docker-compose.yml against the environment variables each service's
// Go code reads and the Dockerfile targets it builds, and the Grafana
// provisioning under deploy/grafana against compose and
// schemas/clickhouse/queries. It has no code of its own; everything is in its
// tests, and `go test ./internal/deploytest -update` regenerates the Grafana
// dashboard from the queries.
package deploytest
