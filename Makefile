# reftrail's everyday commands. `make run` and `make test` are the two commands
# the README starts with; .ci/run runs `make test` with CI=true.

GO ?= go
SERVICES := ./ingest ./enrich ./sink ./console ./notify

.PHONY: build run demo receiver test bench bench-e2e bench-reads fuzz clean

build:
	$(GO) build -o bin/ $(SERVICES) ./internal/dev/devstack ./internal/dev/demotraffic ./reftrailctl ./examples/webhook-receiver

# The whole stack on this machine: Kafka, ClickHouse, ingest, enrich, sink,
# the console (it prints the console's address), and notify when NOTIFY_URLS
# is set (with `make receiver`: NOTIFY_URLS=http://127.0.0.1:9180/
# NOTIFY_ALLOW_PRIVATE=true make run).
# DEVSTACK_FLAGS passes flags, e.g. DEVSTACK_FLAGS='-clickhouse-port 19000'.
run: build
	./bin/devstack $(DEVSTACK_FLAGS)

# With `make run` going in another terminal: sends the demo traffic, waits
# until ClickHouse holds it, prints the campaign funnel beside the plan's.
# DEMO_FLAGS passes flags, e.g. DEMO_FLAGS='-participants 5000'.
demo: build
	./bin/demotraffic -check-clickhouse $(DEMO_FLAGS)

# A subscriber's endpoint that verifies and prints notify's webhooks; needs
# NOTIFY_SECRET (make run prints it). RECEIVER_ADDR changes where it listens.
RECEIVER_ADDR ?= 127.0.0.1:9180
receiver: build
	./bin/webhook-receiver -addr $(RECEIVER_ADDR)

# First the Debian packages the tests use (.ci/test-packages): installed when
# missing as root on a Debian-family system, else named with the command.
test:
	$(GO) run ./internal/dev/testdeps
	$(GO) test -race -count=1 ./...

# Each service benchmark measures its own baseline in the same run and prints
# the ratio; see README.md (Benchmarks).
bench:
	$(GO) test -run '^$$' -bench IngestVsBareHTTP -benchtime 5x ./ingest
	$(GO) test -run '^$$' -bench SpoolVsBareHTTP -benchtime 20000x ./ingest
	$(GO) test -run '^$$' -bench EnrichVsDecodeEncode -benchtime 1x ./enrich
	$(GO) test -run '^$$' -bench SinkThroughput -benchtime 1x ./sink
	$(GO) test -run '^$$' -bench Notify -benchtime 1x ./notify

# The three services together on kfake and a local ClickHouse: sustained
# events/s, and POST-to-visible freshness at a fixed rate.
bench-e2e:
	$(GO) test -run '^$$' -bench Pipeline -benchtime 1x ./e2e

# The read API over ten million demo events (internal/dev/bulkload) in
# ClickHouse: p50/p95 of Participant, Windows, the funnel and the overview.
# With CLICKHOUSE_ADDR and READS_BENCH_DATABASE the loaded data is kept and
# reused; loading takes tens of minutes.
bench-reads:
	$(GO) test -run '^$$' -bench Reads -benchtime 1x -timeout 3h ./internal/chstore

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignature$$' -fuzztime $(FUZZTIME) ./internal/meta
	$(GO) test -run '^$$' -fuzz '^FuzzAccountKey$$' -fuzztime $(FUZZTIME) ./internal/meta
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/meta
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/eventcodec
	$(GO) test -run '^$$' -fuzz '^FuzzSign$$' -fuzztime $(FUZZTIME) ./notify

clean:
	rm -rf bin .reftrail
