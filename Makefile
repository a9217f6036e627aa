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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

docs:
	$(GO) run ./internal/tools/gendocs docs/cli

clean:
	rm -rf bin
