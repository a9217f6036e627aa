# burst: the verbs people expect. `make quickstart` and `make test` are the
# two set-up commands in README.md.

GO      ?= go
BIN     ?= bin/burst
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: all build install deps test-deps quickstart test vet fmt-check lint bench docs clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/burst

install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/burst

# deps installs what running burst locally needs (Dask), test-deps what the
# tests need besides (the aws CLI and shellcheck): Debian/Ubuntu packages.
deps:
	@scripts/install-deps.sh python3-distributed

test-deps:
	@scripts/install-deps.sh python3-distributed awscli shellcheck

# quickstart builds burst and runs its main job on the local provider: a Dask
# cluster up, used by a client, and down.
quickstart: deps build
	@scripts/quickstart.sh $(BIN)

test: test-deps vet fmt-check
	$(GO) test -timeout 45m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

lint: vet fmt-check
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run ./...; \
	else echo "golangci-lint not installed; ran go vet and gofmt only (config: .golangci.yml)"; fi

# bench scales a cluster 0 -> N -> 0 on every cloud simulator (burst and a
# per-machine baseline, 100 ms a call, documented throttles), times cold
# start, peak RSS and the planner, and writes docs/benchmarks/ (results.json,
# results.md, scale.png); then the planner's per-spec benchmark. The N = 5000
# cycles take over an hour (EC2's launch bucket alone needs 2000 s):
# BENCH_FLAGS='-n 10,100,1000' for a shorter run. Peak RSS is read with GNU
# time (apt-get install -y time). See docs/benchmarks.md.
BENCH_FLAGS ?=
bench:
	$(GO) run ./internal/tools/bench -out docs/benchmarks $(BENCH_FLAGS)
	$(GO) test ./internal/plan -run '^$$' -bench Make -benchtime 1000x

docs:
	$(GO) run ./internal/tools/gendocs docs/cli

clean:
	rm -rf bin
