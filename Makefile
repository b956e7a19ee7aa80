# reftrail's everyday commands. `make run` and `make test` are the two commands
# the README starts with; .ci/run runs `make test` with CI=true.

GO ?= go
SERVICES := ./ingest
BENCHTIME ?= 20000x

.PHONY: build run test bench fuzz clean

build:
	$(GO) build -o bin/ $(SERVICES) ./internal/cmd/devstack

run: build
	./bin/devstack

test:
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./ingest

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseSignature -fuzztime 30s ./internal/meta
	$(GO) test -run '^$$' -fuzz FuzzAccountKey -fuzztime 30s ./internal/meta

clean:
	rm -rf bin .reftrail
