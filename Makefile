# Paradise — see README.md. `make run` and `make test` are the two commands
# a fresh machine needs.

GO        ?= go
PKGS      := ./...
# The fuzz and integration suites share one Postgres and Redis; -p bounds
# how many test binaries run at once on small machines.
TESTFLAGS ?= -race -count=1 -p 2 -timeout 20m

.PHONY: all generate check-generated build run test test-go test-e2e lint lint-spec sdk sdk-deps speech-deps console console-deps console-types check-console test-console chromium fuzz fuzz-api fuzz-hub migration migrate-check contract-diff bench bench-hub bench-chat bench-voice bench-commands chaos docs-assets ci

all: build

## generate: regenerate gen/ (ogen, asyncapigen) and ent/ from the contracts and schemas
generate:
	$(GO) generate ./ent/ ./gen/

## check-generated: fail if generated code is out of date with its sources
check-generated: generate
	@git diff --exit-code -- gen ent go.mod go.sum || { echo "generated code is out of date: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen ent)" || { git status --porcelain -- gen ent; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

## build: build bin/paradise
build:
	$(GO) build -o bin/paradise ./cmd/paradise

## run: run the service on the embedded default (SQLite + in-process Redis) on :8000
run:
	$(GO) run ./cmd/paradise serve

## test: run every test: Go (needs Postgres and Redis, see README), and
## beside it the SDK end-to-end programs, then the console in a browser
## (those two mostly wait on servers and a browser, so they share the
## machine with the Go tests rather than follow them; -O keeps each part's
## output together)
test: speech-deps
	@$(MAKE) --no-print-directory -j2 -O test-go test-e2e

## test-e2e: the SDK end-to-end programs, then the console's browser walk
test-e2e:
	@$(MAKE) --no-print-directory sdk
	@$(MAKE) --no-print-directory test-console

## test-go: the Go tests only
test-go:
	$(GO) test $(TESTFLAGS) $(PKGS)

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet $(PKGS)

## lint-spec: Spectral on both contracts (.spectral.yaml); fails on any error or warning
lint-spec: sdk/node_modules/.bin/spectral
	sdk/node_modules/.bin/spectral lint --fail-severity=warn openapi.yaml asyncapi.yaml

sdk/node_modules/.bin/spectral: sdk/package.json sdk/package-lock.json
	cd sdk && npm ci --no-audit --no-fund
	cp sdk/package-lock.json sdk/node_modules/.package-lock.stamp # sdk/run.sh skips npm ci while it matches
	touch $@

## sdk: generate the TypeScript and C# SDKs into dist/sdk/, compile them, and run
## their end-to-end programs against a live server
sdk: sdk-deps speech-deps
	bash sdk/run.sh

## sdk-deps: Mono's C# compiler, Json.NET, System.Net.Http and redis-server from Debian, when missing (needs root)
sdk-deps:
	@if ! command -v mcs >/dev/null 2>&1 || ! pkg-config --exists newtonsoft-json 2>/dev/null || \
		! test -f "$$(dirname "$$(command -v mono)")/../lib/mono/4.5/System.Net.Http.dll" || \
		! command -v redis-server >/dev/null 2>&1; then \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends mono-mcs libnewtonsoft-json-cil-dev libmono-system-net-http4.0-cil pkg-config redis-server; \
	fi

## speech-deps: the development speech engines (espeak-ng, pocketsphinx with
## its US English model) from Debian, when missing (needs root). The service
## runs without them (speech answers 503); the tests and the SDK walks use
## them for a real synthesis and recognition round trip.
speech-deps:
	@if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v pocketsphinx_continuous >/dev/null 2>&1; then \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends espeak-ng pocketsphinx pocketsphinx-en-us; \
	fi

## console: rebuild the admin console (console/) into internal/console/dist,
## which is committed and embedded in the binary. It type-checks against the
## REST types the TypeScript SDK is generated with, so a contract change the
## console does not follow fails here. Deterministic: same sources, same files.
console: console-types console-deps
	cd console && node_modules/.bin/tsc --noEmit -p tsconfig.json
	cd console && node_modules/.bin/vite build --logLevel warn

## console-types: the SDK's REST types (dist/sdk/ts/rest/api.d.ts), as sdk/run.sh makes them
console-types: sdk/node_modules/.bin/spectral
	@mkdir -p dist/sdk/ts/rest
	sdk/node_modules/.bin/openapi-typescript openapi.yaml -o dist/sdk/ts/rest/api.d.ts --silent --default-non-nullable false

## console-deps: the console's npm packages (console/package-lock.json)
console-deps: console/node_modules/.bin/vite

console/node_modules/.bin/vite: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## check-console: fail if the committed console build differs from a fresh one
check-console: console
	@git diff --exit-code -- internal/console/dist || { echo "the console build is out of date: run 'make console' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- internal/console/dist)" || { git status --porcelain -- internal/console/dist; echo "untracked console build files: run 'make console' and commit"; exit 1; }

## chromium: Debian's chromium for the console's browser test, and a Chinese
## font for its zh-CN screenshots, when missing (needs root)
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei; }

## test-console: drive the console in headless chromium (playwright-core)
## against a live `paradise serve`; screenshots in dist/console-screenshots/
test-console: chromium console-deps build
	node console/e2e/run.mjs

## migration: write a new Postgres migration for ent/schema changes (NAME=...)
migration:
	@test -n "$(NAME)" || { echo "usage: make migration NAME=short_name"; exit 1; }
	$(GO) run ./tools/migratediff -name $(NAME)

## migrate-check: fail if ent/schema has changes no migration covers
## (after merging branches that each added migrations: go run ./tools/migratediff -rehash)
migrate-check:
	$(GO) run ./tools/migratediff -check

## contract-diff: fail on a breaking change to openapi.yaml or asyncapi.yaml
## against the last release tag (v*; else main) unless the contract's major
## version is bumped and CHANGELOG.md has a "### Breaking" entry (BASE=<rev>)
BASE ?=
contract-diff:
	$(GO) run ./tools/contractdiff $(if $(BASE),-base $(BASE))

## bench: load-test the hot REST paths, the device hub and persistent commands on Postgres + Redis (not part of CI)
bench:
	$(GO) run ./tools/restload
	$(GO) run ./tools/hubload
	$(GO) run ./tools/cmdload

## bench-commands: queue 100,000 commands for 10,000 offline devices, then deliver them
bench-commands:
	$(GO) run ./tools/cmdload

## bench-hub: load-test only the device hub
bench-hub:
	$(GO) run ./tools/hubload

## bench-chat: 1,000 concurrent streamed AI chats against an in-process fake
## LLM provider (20 ms per token, 50 tokens): added time to first token,
## server memory per stream, lost streams (not part of CI; about a minute)
bench-chat:
	$(GO) run ./tools/chatload

## bench-voice: 200 concurrent hub voice turns (5 s of 16 kHz PCM each)
## against an in-process fake Volcengine (50 ms per answer): added latency
## from end of speech to the first reply audio frame, server memory per
## turn, lost turns (not part of CI; about a minute)
bench-voice:
	$(GO) run ./tools/voiceload

## chaos: kill -9 an instance, cut Redis, cut Postgres (through in-process proxies)
## under device/app load and write what clients saw to the Chaos section of
## docs/reliability.md (not part of CI; a few minutes). CHAOS_FLAGS adds flags.
CHAOS_FLAGS ?=
chaos:
	$(GO) run ./tools/chaos -out docs/reliability.md $(CHAOS_FLAGS)

## fuzz: fuzz the WebSocket frame decoder (FUZZTIME=200000x executions by default: a
## count, not a duration, because go1.26's fuzz coordinator can fail a run that
## ends on a -fuzztime deadline with "context deadline exceeded" (golang/go#75804))
FUZZTIME ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseFrame -fuzztime $(FUZZTIME) ./tools/asyncapigen

## fuzz-api: the spec-driven REST fuzzer (internal/apifuzz) on both backends for
## FUZZ_API_BUDGET per backend after its sweep, with a random seed it prints;
## rerun a failure with FUZZ_API_SEED=<seed>. Needs Postgres and Redis.
FUZZ_API_BUDGET ?= 60s
FUZZ_API_SEED   ?= random
fuzz-api:
	PARADISE_FUZZ_API_SEED=$(FUZZ_API_SEED) PARADISE_FUZZ_API_BUDGET=$(FUZZ_API_BUDGET) \
		$(GO) test -race -count=1 -v -timeout 60m -run '^TestAPIFuzz$$' ./internal/apifuzz

## fuzz-hub: the spec-driven hub frame fuzzer (internal/hubfuzz) on both backends
## for FUZZ_HUB_BUDGET per backend after its sweep, with a random seed it prints;
## rerun a failure with FUZZ_HUB_SEED=<seed>. Needs Postgres and Redis.
FUZZ_HUB_BUDGET ?= 60s
FUZZ_HUB_SEED   ?= random
fuzz-hub:
	PARADISE_FUZZ_HUB_SEED=$(FUZZ_HUB_SEED) PARADISE_FUZZ_HUB_BUDGET=$(FUZZ_HUB_BUDGET) \
		$(GO) test -race -count=1 -v -timeout 60m -run '^TestHubFuzz$$' ./internal/hubfuzz

## docs-assets: refresh the vendored ReDoc bundle from the npm registry
docs-assets:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack redoc@2.5.4 >/dev/null && tar xzf redoc-2.5.4.tgz && \
	cp package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt $(CURDIR)/internal/httpapi/assets/ && \
	cp package/LICENSE $(CURDIR)/internal/httpapi/assets/redoc.LICENSE && rm -rf $$tmp

## ci: everything CI checks
ci: lint lint-spec check-generated migrate-check contract-diff check-console test
	$(MAKE) fuzz FUZZTIME=100000x
