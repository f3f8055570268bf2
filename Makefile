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

test: ## Run the whole suite: go vet, every test with the race detector, then each fuzz target for 5 s
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...
	@$(MAKE) --no-print-directory fuzz-short

.PHONY: fuzz fuzz-short

# Every fuzz target, as package:name: Go fuzzes one target of one package
# per run. A failing input lands in the package's testdata/fuzz/<name>/ and
# every `go test` replays it from then on. Set FUZZ_TARGETS to run fewer,
# e.g. make fuzz FUZZ_TARGETS=./transport:FuzzChunkFrame.
FUZZ_TARGETS := \
	./internal/plan:FuzzApply ./internal/plan:FuzzRestore \
	./transport:FuzzRPCFrame ./transport:FuzzAck ./transport:FuzzStripeFrame ./transport:FuzzChunkFrame \
	./transport:FuzzReadChunk ./internal/jobspec:FuzzParse ./internal/jobspec:FuzzParseJSON ./internal/config:FuzzParse
# FUZZTIME is what `make fuzz` gives each target. Minimizing every new
# corpus entry for Go's default 60 s stalls a run, so FUZZMINIMIZETIME
# bounds it. FUZZFLAGS adds flags, e.g. FUZZFLAGS='-parallel 1' on a busy
# machine (the default is one worker per CPU).
FUZZTIME ?= 10m
FUZZMINIMIZETIME ?= 10s
FUZZFLAGS ?=

# fuzz-run runs every target for $(1), its output piped through $(2) and,
# when it fails, through $(3). Go 1.26 may end a clean run with a bare
# "context deadline exceeded" at the -fuzztime deadline (go.dev/issue/75804,
# fixed in Go 1.27): a run fails only if it wrote a failing input or ended
# on another error.
define fuzz-run
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
		echo "fuzz $$name ($$pkg) for $(1)"; \
		{ $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(1) -fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) $$pkg; \
			echo $$? >$$log.rc; } 2>&1 | tee $$log | $(2); \
		if [ "$$(cat $$log.rc)" != 0 ]; then \
			if grep -q 'Failing input written to' $$log || ! tail -n 4 $$log | grep -q 'context deadline exceeded'; then \
				$(3) $$log; rm -f $$log $$log.rc; exit 1; fi; \
			echo "  ended on go.dev/issue/75804 (context deadline exceeded, no failing input): not a finding"; \
		fi; \
		rm -f $$log $$log.rc; \
	done
endef

fuzz-short: ## Run each fuzz target for 5 s (part of make test)
	$(call fuzz-run,5s,grep -E '^(ok|FAIL|--- FAIL)' || true,cat)

fuzz: ## Run each fuzz target for FUZZTIME (default 10m), e.g. make fuzz FUZZTIME=30m
	$(call fuzz-run,$(FUZZTIME),cat,true)

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
