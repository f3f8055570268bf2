# Lepton's everyday commands. Needs only Go and GNU make: go fetches modules
# (and staticcheck) through the module proxy itself. `make help` lists targets.

GO ?= go
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt

# Stamped into both binaries (internal/version). A clone without tags gets
# the short commit from --always; without git (or outside a clone) 0.1.0-dev.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/leptonmesh/lepton/internal/version.Version=$(VERSION) \
	-X github.com/leptonmesh/lepton/internal/version.Commit=$(COMMIT)

# staticcheck 2026.2.2 (v0.8.2) is the first release that reads Go 1.26 code.
STATICCHECK_VERSION := v0.8.2

.DEFAULT_GOAL := help

.PHONY: help build test lint demo bench-failover bench-migrate bench-drill clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build leptond and leptonctl into bin/
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

test: ## Run the whole suite: go vet, then every test with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

lint: ## Check formatting (gofmt), go vet and staticcheck
	@files=$$($(GOFMT) -l .); if [ -n "$$files" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

demo: build ## Migrate a 512 MiB tree across a local mesh, verify it, then kill the leader
	LEPTON_BIN_DIR=$(CURDIR)/bin $(GO) run ./internal/demo

bench-failover: ## Measure leader failover time (10 kill -9 rounds)
	$(GO) test -run '^$$' -bench BenchmarkLeaderFailover -benchtime 10x -timeout 20m ./bench/

bench-migrate: ## Measure a 2 GiB migration (throughput, CPU s/GiB, peak RSS); LEPTON_BENCH_SIZE to change
	$(GO) test -run '^$$' -bench BenchmarkMigrate -benchtime 1x -timeout 30m ./bench/

bench-drill: ## Kill the leader mid-job 10 times: time to a new leader, to bytes flowing again, bytes resent
	$(GO) test -run '^$$' -bench BenchmarkLeaderKillMidJob -benchtime 10x -timeout 30m ./bench/

.PHONY: bench bench-quick

# BENCH_FLAGS passes flags on, e.g. make bench BENCH_FLAGS="-only=S1,S3 -repeats=1".
bench: build ## Lepton vs rsync over ssh vs rclone over sftp: S1-S4 at issue 5's sizes, 3 repeats (S3: 2); ~40 min; JSON in bench/results/
	bash bench/deps.sh
	LEPTON_BIN_DIR=$(CURDIR)/bin $(GO) run ./bench/compare -mode=full $(BENCH_FLAGS)

bench-quick: build ## The same comparison on small trees, 1 repeat (a few minutes)
	bash bench/deps.sh
	LEPTON_BIN_DIR=$(CURDIR)/bin $(GO) run ./bench/compare -mode=quick $(BENCH_FLAGS)

clean: ## Remove bin/ and dist/
	rm -rf bin/ dist/
