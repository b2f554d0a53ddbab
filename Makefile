# layoffwatch — see README.md. Everything runs on this machine: the embedded
# Kafka broker (kfake) and a local ClickHouse server the project starts itself.

GO        ?= go
BIN       := bin/layoffwatch
PKGS      := ./...
FUZZTIME  ?= 10s
# Where `make demo` keeps its ClickHouse data and output.
DEMO_DIR  ?= .layoffwatch/demo

.PHONY: all build deps test test-unit vet fuzz demo bench-ingest clean compose-config

all: build

build:
	$(GO) build -o $(BIN) ./cmd/layoffwatch

# Debian's clickhouse-server when missing (needs root the first time).
deps:
	@deploy/local/deps.sh

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Unit and integration tests (real ClickHouse, embedded Kafka), then every
# fuzz target briefly.
test: deps vet
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzParsePeriod$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzAppendEncode$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzParseCSV$$' -fuzztime=$(FUZZTIME) ./internal/firms

# Simulate a province, push it through embedded Kafka and ingest into the
# local ClickHouse, then print headcount by prefecture and month.
demo: deps build
	$(BIN) local --dir $(DEMO_DIR)

# 1,000,000 reports: embedded Kafka → ingest (a child process) → local
# ClickHouse, against a raw batch insert of the same rows.
bench-ingest: deps
	$(GO) test -run='^$$' -bench='^BenchmarkIngest$$' -benchtime=1x -timeout 30m -v ./ingest

clean:
	rm -rf bin .layoffwatch
