# layoffwatch — see README.md. Everything runs on this machine: the embedded
# Kafka broker (kfake) and a local ClickHouse server the project starts itself.

GO        ?= go
BIN       := bin/layoffwatch
PKGS      := ./...
# Each fuzz target's budget, as a count of inputs: a duration (10s) trips
# Go 1.26's fuzz coordinator, which can report "context deadline exceeded"
# at the deadline without any failing input (golang/go#75804, fixed in 1.27).
FUZZTIME  ?= 20000x
# Where `make demo` keeps its ClickHouse data and output.
DEMO_DIR  ?= .layoffwatch/demo

GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: all build deps deps-demo deps-chdb regions test test-cluster vet lint fuzz demo bench-ingest bench-detect bench-quality bench-gateway bench-alert-latency bench-scale clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/layoffwatch

# Debian's packages the tests need, when missing (needs root the first
# time): clickhouse-server, docker-compose, prometheus, chromium.
deps:
	@deploy/local/deps.sh test

# Only what the demo and the benchmarks need: clickhouse-server.
deps-demo:
	@deploy/local/deps.sh demo

# Regenerate internal/region/china.csv from the pinned npm packages (needs
# node and npm; see internal/region/gen/gen.mjs).
regions:
	$(GO) generate ./internal/region

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The current ClickHouse engine in-process (chDB's libchdb.so, ClickHouse
# 26.7) for the SQL-parity test, once, into ~/.cache/layoffwatch (needs npm).
deps-chdb:
	@deploy/local/deps-chdb.sh >/dev/null

# golangci-lint (errorlint, revive, sloglint, bodyclose, sqlclosecheck,
# gosec; see .golangci.yml), built from the Go module proxy when missing.
lint:
	@command -v golangci-lint >/dev/null 2>&1 || test -x "$$(go env GOPATH)/bin/golangci-lint" || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	PATH="$$(go env GOPATH)/bin:$$PATH" golangci-lint run --timeout 10m ./...

# Unit and integration tests (real ClickHouse, embedded Kafka; the SQL-parity
# test also runs the current engine, CHDB_LIB_PATH), then every fuzz target
# briefly.
test: deps vet
	lib="$$(deploy/local/deps-chdb.sh)" && CHDB_LIB_PATH="$$lib" $(GO) test -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzParsePeriod$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzAppendEncode$$' -fuzztime=$(FUZZTIME) ./internal/report
	$(GO) test -run='^$$' -fuzz='^FuzzParseCSV$$' -fuzztime=$(FUZZTIME) ./internal/firms
	$(GO) test -run='^$$' -fuzz='^FuzzParseCSV$$' -fuzztime=$(FUZZTIME) ./internal/label
	$(GO) test -run='^$$' -fuzz='^FuzzNeutralize$$' -fuzztime=$(FUZZTIME) ./internal/csvcell
	$(GO) test -run='^$$' -fuzz='^FuzzAddr$$' -fuzztime=$(FUZZTIME) ./internal/clientip
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeCSV$$' -fuzztime=$(FUZZTIME) ./gateway
	$(GO) test -run='^$$' -fuzz='^FuzzFramingConn$$' -fuzztime=$(FUZZTIME) ./gateway
	$(GO) test -run='^$$' -fuzz='^FuzzGatewayRequest$$' -fuzztime=$(FUZZTIME) ./gateway
	$(GO) test -run='^$$' -fuzz='^FuzzAckRequest$$' -fuzztime=$(FUZZTIME) ./gateway
	$(GO) test -run='^$$' -fuzz='^FuzzFastMatchesVM$$' -fuzztime=$(FUZZTIME) ./detector
	$(GO) test -run='^$$' -fuzz='^FuzzParsePlan$$' -fuzztime=$(FUZZTIME) ./detector
	$(GO) test -run='^$$' -fuzz='^FuzzParseConfig$$' -fuzztime=$(FUZZTIME) ./alerts
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/alertevent
	$(GO) test -run='^$$' -fuzz='^FuzzHeaderText$$' -fuzztime=$(FUZZTIME) ./alerts/email
	$(GO) test -run='^$$' -fuzz='^FuzzTemplate$$' -fuzztime=$(FUZZTIME) ./alerts/email
	$(GO) test -run='^$$' -fuzz='^FuzzApply$$' -fuzztime=$(FUZZTIME) ./console

# Scale-out on one machine: ClickHouse 2 shards × 2 replicas coordinated by
# Debian's ZooKeeper, migrations ON CLUSTER, every statement compared with
# one server, two ingest replicas with a replica killed mid-stream, detect
# replicas dividing the prefectures with one killed.
test-cluster: deps
	@deploy/local/deps.sh cluster
	LAYOFFWATCH_TEST_CLUSTER=1 $(GO) test -count=1 -timeout 15m -v ./deploy/cluster
	LAYOFFWATCH_TEST_CLUSTER=1 $(GO) test -count=1 -timeout 10m -v -run '^TestClusterParity$$' ./internal/sqlparity

# The whole story on the embedded defaults: a province of 2,000 firms over
# 36 months with planted layoffs → gateway and Kafka → ingest → ClickHouse →
# detector → alerts; emails as .eml files under $(DEMO_DIR)/mail.
demo: deps-demo build
	$(BIN) local --dir $(DEMO_DIR) --months 36

# 1,000,000 reports: embedded Kafka → ingest (a child process) → local
# ClickHouse, against three floors on the same rows (internal/ingestbench):
# raw insert, consume alone, both at once.
bench-ingest: deps-demo
	$(GO) test -run='^$$' -bench='^BenchmarkIngest$$' -benchtime=1x -timeout 30m -v ./ingest

# 100,000 and 10,000 firms × 36 months in the local ClickHouse: a full
# evaluation of the default plan against streaming the same rows (the floor).
bench-detect: deps-demo
	$(GO) test -run='^$$' -bench='^BenchmarkDetect$$' -benchtime=1x -timeout 30m -v ./detector

# Warning quality (not speed): plan eval of the statutory, seasonal and
# default plans on three seeds of the simulated province, the default plan on
# stressed provinces, and real series (Debian's gretl-data; the fpp3 BLS file
# when LAYOFFWATCH_REALDATA_FPP3 points at a local copy). Figures in
# docs/benchmarks.md.
bench-quality:
	dir="$$(deploy/local/deps-realdata.sh)" && LAYOFFWATCH_REALDATA_GRETL="$$dir" $(GO) test -run='^$$' -bench='^BenchmarkQuality$$' -benchtime=1x -timeout 30m -v ./detector

# Single-report POSTs (64 clients) and 1,000-report batches through the
# gateway (auth, validation, acks=all) into the embedded Kafka on loopback;
# prints reports/s and p50/p99 latency. Figures in docs/benchmarks.md.
bench-gateway: deps-demo
	$(GO) test -run='^$$' -bench='^BenchmarkGateway$$' -benchtime=1x -timeout 30m -v ./gateway

# 100 threshold-crossing reports POSTed to the gateway one at a time: POST →
# email at the SMTP server through every component. Target p99 < 5 s.
bench-alert-latency: deps-demo
	$(GO) test -run='^$$' -bench='^BenchmarkAlertLatency$$' -benchtime=1x -timeout 20m -v ./alerts

# 1,000,000 firms over five provinces × 24 months on ClickHouse 2 shards
# (ZooKeeper): load time, detect with 1, 2 and 4 replicas (peak RSS each,
# time of a full pass; 4 leased in ZooKeeper too); ingest on a 2.3 M-report
# slice against the floors of internal/ingestbench; then the sharding key —
# firm hash against prefecture — on one province. Figures in
# docs/benchmarks.md and the sizing of docs/operations.md.
# BENCH_SCALE_FIRMS scales it down.
bench-scale: deps-demo
	@deploy/local/deps.sh cluster
	$(GO) test -run='^$$' -bench='^Benchmark(Scale|ScaleIngest|ShardKey)$$' -benchtime=1x -timeout 90m -v ./deploy/cluster

clean:
	rm -rf bin .layoffwatch
