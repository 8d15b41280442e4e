# Ledgerline — the two commands a new user needs are `make run` and `make test`.
GO        ?= go
BIN       ?= bin/ledgerline
DATA_DIR  ?= ./ledgerline-data
ADDR      ?= 127.0.0.1:8080
export LEDGERLINE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export LEDGERLINE_TEST_NATS_URL ?= nats://127.0.0.1:4222

.PHONY: build run test test-short bench bench-quick lint services reliability clean

build:
	$(GO) build -o $(BIN) ./cmd/ledgerline

## run: start the service on the embedded store (no database needed)
run: build
	./$(BIN) serve --data-dir $(DATA_DIR) --addr $(ADDR)

## test: the whole suite, PostgreSQL and NATS included (CI=true makes a missing database fail)
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

## bench: full benchmarks; each prints `ratio <name> <value>` lines taken in one run
bench: build
	./$(BIN) bench store
	./$(BIN) bench vault
	./$(BIN) bench projections
	./$(BIN) bench http
	./$(BIN) bench cluster

bench-quick: build
	./$(BIN) bench store --quick
	./$(BIN) bench vault --quick
	./$(BIN) bench projections --quick
	./$(BIN) bench http --quick
	./$(BIN) bench cluster --quick

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## reliability: crash cycles (SIGKILL under load, both backends), PostgreSQL restarts,
## hostile input, expired tokens x every route, auth rate limit, leak search, then every
## fuzz target for FUZZTIME (default 5s); figures in bin/reliability/ (docs/reliability.md)
reliability:
	GO=$(GO) FUZZTIME=$(or $(FUZZTIME),5s) bash scripts/reliability.sh

## services: install/start PostgreSQL and NATS when missing (what CI does)
services:
	bash scripts/services.sh

clean:
	rm -rf bin
