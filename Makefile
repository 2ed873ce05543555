# NEPSE Prediction Mesh. Every target runs on the Node in node_modules/.bin (Node 24, from npm).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
TSX := node --import tsx
TESTS := 'lib/**/*.test.ts' 'services/**/*.test.ts' 'test/**/*.test.ts' 'cli/**/*.test.ts'

.DEFAULT_GOAL := help
.PHONY: help deps chromium setup generate contracts lint format build web test dev demo bench soak clean mesh images mesh-smoke

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Reinstall npm packages from the lockfile, and nats-server when it is missing
	npm ci --no-audit --no-fund
	@$(MAKE) --no-print-directory deps

node_modules:
	npm ci --no-audit --no-fund

deps: node_modules ## Install what is missing: npm packages, and nats-server (Debian package) for the tests
	@command -v nats-server >/dev/null || { echo "installing nats-server"; apt-get update -qq && apt-get install -y -qq nats-server; }

chromium: ## Install Debian's chromium for the dashboard's browser test when it is missing
	@command -v chromium >/dev/null || { echo "installing chromium"; apt-get update -qq && apt-get install -y -qq chromium; }

web: node_modules ## Build the dashboard into web/dist/ (esbuild), which the gateway serves at /
	$(TSX) web/build.ts

# The dashboard, built on first use by the targets that serve or test it; `make web` rebuilds it.
web/dist/index.html: | node_modules
	$(TSX) web/build.ts

generate: node_modules ## Regenerate gen/ and descriptors/ from proto/ with buf
	bash scripts/generate.sh

mesh: node_modules ## Regenerate mesh/k8s/base and mesh/istio from mesh/call-graph.yaml
	$(TSX) mesh/generate.ts

images: node_modules web/dist/index.html ## Container images of every service with podman (embedded :dev and server variants), on a base made locally
	bash mesh/images/build.sh

mesh-smoke: images ## The dev overlay in podman on the default ports: all SERVING, import, train, promote, Predict, then torn down
	$(TSX) mesh/smoke.ts

contracts: node_modules ## Contract checks: buf lint, format, gen/ and descriptors/ up to date, breaking against the baseline
	bash scripts/check-contracts.sh

lint: contracts ## Contract checks, the formatting check and the TypeScript type check
	prettier --check --log-level warn .
	tsc --noEmit -p .
	tsc --noEmit -p web

format: deps ## Rewrite the TypeScript and JavaScript sources in the house style (.prettierrc.json)
	prettier --write --log-level warn .

build: lint ## Type-check everything (services run from source through tsx)

# --test-force-exit: a test file whose tests have all ended exits even if something it started is
# still retrying in the background; a failed test must fail the run, never stall it.
test: deps chromium web/dist/index.html lint ## Everything CI runs: contract checks, type check, unit and integration tests
	node --no-wasm-code-gc --import tsx --test --test-force-exit --test-timeout=300000 $(TESTS)

.PHONY: cluster-test
cluster-test: deps ## The mesh on four hosts made of network namespaces (root): a NATS cluster and six faults, torn down after
	$(TSX) --test --test-timeout=600000 --test-concurrency=1 'test/cluster/*.cluster.ts'

dev: deps web/dist/index.html ## Run every service on its default port with a local nats-server and embedded stores
	$(TSX) scripts/dev.ts $(ARGS)

demo: deps web/dist/index.html ## The whole mesh end to end: sample data, features, training, promotion, live predictions (DEMO_CSV=file to use your own)
	$(TSX) scripts/demo.ts

bench: node_modules ## Benchmarks (all, or one: make bench ONLY=ingestion)
	$(TSX) bench/run.ts $(ONLY)

soak: node_modules ## Mixed traffic through real services for SOAK_MINUTES (10), a line a minute, then a verdict against the aims
	$(TSX) bench/soak.ts

clean: ## Remove local data (.data/)
	rm -rf .data
