# Pairsync. `make run` starts the server on the embedded default; `make test`
# runs the whole suite (installing what it needs, idempotently).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Heavy tools and builds are cached outside the repo.
CACHE   ?= $(HOME)/.cache/pairsync

WEB     := mobile/web

.PHONY: run build test test-go vet bench soak clean minio web web-env

## run: build the web app and pairsyncd, and start it on the embedded default (./data)
run: web
	@$(MAKE) --no-print-directory build
	./$(BIN)/pairsyncd

## web: build the field app into mobile/web/dist, which pairsyncd embeds
## (npm ci when package-lock.json changed, syncproto.wasm, vite build)
web:
	@./.ci/web npm
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $(WEB)/public/syncproto.wasm ./mobile/wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WEB)/public/wasm_exec.js
	cd $(WEB) && npm run --silent build

# web-env: Chromium (Debian's, once) and the npm packages the browser tests use.
web-env:
	@./.ci/web

## build: build the binaries into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pairsyncd ./server/cmd/pairsyncd

## test: the whole suite (vet, unit, conformance, end-to-end, race detector)
test: vet minio web-env web test-go

## minio: build the MinIO server the photo-store tests run (once; cached in $(CACHE))
minio:
	@PAIRSYNC_CACHE=$(CACHE) ./.ci/minio >/dev/null

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The MinIO tests find the binary .ci/minio built.
test-go: export PAIRSYNC_MINIO_BIN = $(shell PAIRSYNC_CACHE=$(CACHE) ./.ci/minio 2>/dev/null)
test-go:
	$(GO) test -race -timeout 20m ./...
	# The convergence simulation runs 100 seeds under -race (above) and 500
	# without it (issue 4 asks for 500 in CI; with -race they take ~90 s).
	$(GO) test -count=1 -run '^TestConvergence$$' -timeout 10m ./server/
	# The web app's browser journeys (real Chromium) run without -race: the
	# race detector triples the server's time and they skip under it.
	$(GO) test -count=1 -run '^TestBrowserJourneys$$' -timeout 5m ./mobile/web/

## bench: benchmarks of the engine-level code
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## soak: the long runs (bounded, under 30 minutes): 20,000 convergence seeds
soak:
	PAIRSYNC_SIM_SEEDS=20000 $(GO) test -count=1 -run 'TestConvergence' -timeout 30m ./server/

clean:
	rm -rf $(BIN)
