# Codexion — `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
# DuckDB's Arrow interface, used by the feature store, is behind a build tag.
export GOFLAGS := -tags=duckdb_arrow $(GOFLAGS)
DATA_DIR      ?= .codexion
BIN_DIR       := $(DATA_DIR)/bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS       := -X github.com/codexion/codexion/platform/buildinfo.Version=$(VERSION) \
                 -X github.com/codexion/codexion/platform/buildinfo.Commit=$(COMMIT)
GOLANGCI_LINT_VERSION ?= v2.15.0
WORKFLOWCHECK_VERSION := v0.6.0
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
TEST_TIMEOUT  ?= 15m

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/codexion
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/codexion ./cmd/codexion

.PHONY: run
run: build ## bring up the dev stack (Postgres, Kafka, Temporal, S3) and the API; Ctrl-C stops it
	./bin/codexion dev --features.apply examples/ledger

.PHONY: temporal-cli
temporal-cli: ## install the Temporal CLI (dev server) into .codexion/bin
	@deploy/dev/temporal.sh install >/dev/null

.PHONY: test
test: temporal-cli ## run every test against real Postgres, kfake, Temporal, S3 and Redis, then fuzz-short
	@status=0; $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... || status=$$?; \
	  if [ $$status = 0 ]; then deploy/fuzz/short.sh || status=$$?; fi; \
	  CODEXION_PG_DIR=$(CURDIR)/$(DATA_DIR)/test-postgres deploy/dev/postgres.sh stop || true; \
	  CODEXION_REDIS_DIR=$(CURDIR)/$(DATA_DIR)/test-redis deploy/dev/redis.sh stop || true; \
	  exit $$status

.PHONY: fuzz-short
fuzz-short: ## run every fuzz target for FUZZTIME (8s) from its committed corpus, one after another
	@deploy/fuzz/short.sh

.PHONY: test-race
test-race: temporal-cli ## run the tests with the race detector
	@status=0; $(GO) test -count=1 -race -timeout 30m ./... || status=$$?; \
	  CODEXION_PG_DIR=$(CURDIR)/$(DATA_DIR)/test-postgres deploy/dev/postgres.sh stop || true; \
	  CODEXION_REDIS_DIR=$(CURDIR)/$(DATA_DIR)/test-redis deploy/dev/redis.sh stop || true; \
	  exit $$status

.PHONY: bench
bench: ## run benchmarks, keep the raw output in docs/bench/runs/ and regenerate docs/benchmarks.md from it
	@mkdir -p $(DATA_DIR)
	@deploy/bench/sklearn.sh || true
	@export CODEXION_BENCH_DURABLE=1; \
	  status=0; $(GO) test -p 1 -run '^$$' -bench . -benchmem -count 5 ./... | tee $(DATA_DIR)/bench.txt || status=$$?; \
	  if [ $$status = 0 ]; then \
	    CODEXION_BENCH_LOAD=1 $(GO) test -p 1 -run '^$$' -bench 'PostEntryVsPgbench|PostEntryWithPipeline|BatchLines|CommitToTopicLatency|Historical10M|OnlineLookup|Freshness|TrainingSetJob|Training1M' -benchtime 1x -count 1 -timeout 40m ./ledger/ ./connectors/outbox/ ./features/ ./app/ ./models/train/ \
	      | tee -a $(DATA_DIR)/bench.txt || status=$$?; \
	  fi; \
	  CODEXION_PG_DIR=$(CURDIR)/$(DATA_DIR)/bench-postgres deploy/dev/postgres.sh stop || true; \
	  CODEXION_REDIS_DIR=$(CURDIR)/$(DATA_DIR)/test-redis deploy/dev/redis.sh stop || true; \
	  [ $$status = 0 ] && deploy/bench/ratios.sh $(DATA_DIR)/bench.txt && \
	  $(GO) run ./internal/benchreport/cmd/benchreport record -in $(DATA_DIR)/bench.txt -dir docs/bench/runs && \
	  $(GO) run ./internal/benchreport/cmd/benchreport render -dir docs/bench/runs -template docs/bench/benchmarks.md.tmpl -out docs/benchmarks.md

.PHONY: lint
lint: ## gofmt, go vet, the layering check, golangci-lint and Temporal's workflowcheck (pinned)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./internal/layering
	@[ -x $(BIN_DIR)/golangci-lint ] || GOBIN=$(CURDIR)/$(BIN_DIR) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(BIN_DIR)/golangci-lint run ./...
	@[ -x $(BIN_DIR)/workflowcheck ] || GOBIN=$(CURDIR)/$(BIN_DIR) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)
	$(BIN_DIR)/workflowcheck ./workflows/...

.PHONY: sbom
sbom: ## write a CycloneDX SBOM of the binary's modules to bin/codexion.cdx.json
	@mkdir -p bin
	@[ -x $(BIN_DIR)/cyclonedx-gomod ] || GOBIN=$(CURDIR)/$(BIN_DIR) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)
	$(BIN_DIR)/cyclonedx-gomod app -json -licenses=false -main cmd/codexion -output bin/codexion.cdx.json .
	@echo "wrote bin/codexion.cdx.json"

.PHONY: hooks
hooks: ## install the git pre-commit hook (gofmt and go vet)
	git config core.hooksPath .githooks
	@echo "pre-commit hook installed from .githooks/"

.PHONY: notebooks
notebooks: ## run every notebook in notebooks/ against the running dev stack (start it with make run)
	python3 deploy/notebooks/run.py notebooks

.PHONY: clean-data
clean-data: ## stop leftover dev clusters and remove .codexion/ (all dev data)
	-CODEXION_PG_DIR=$(CURDIR)/$(DATA_DIR)/postgres deploy/dev/postgres.sh stop
	-CODEXION_PG_DIR=$(CURDIR)/$(DATA_DIR)/test-postgres deploy/dev/postgres.sh stop
	-CODEXION_REDIS_DIR=$(CURDIR)/$(DATA_DIR)/test-redis deploy/dev/redis.sh stop
	rm -rf $(DATA_DIR)
