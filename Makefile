# Pedigree build entry points. `make devnet` runs the local network, `make test` runs every test.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/pedigree/target
export PEDIGREE_CONFORMANCE ?= $(abspath ../shared/conformance)
CARGO ?= cargo

.PHONY: deps build test lint fmt conformance soak devnet

deps:
	@scripts/deps.sh

build: deps
	$(CARGO) build --workspace --all-targets --locked

## Every test in the workspace (unit, scenario, property, simulator, conformance, end-to-end).
test: build
	$(CARGO) test --workspace --locked

## Formatting and clippy, warnings denied.
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## The conformance report, one line per corpus.
conformance: deps
	$(CARGO) run --locked --release -p pedigree-conformance --bin pedigree-conformance

## A long simulator soak: `make soak SEEDS=10000 REPLICAS=5`.
SEEDS ?= 10000
REPLICAS ?= 3
soak: deps
	$(CARGO) run --locked --release -p pedigree-sim -- --seeds $(SEEDS) --replicas $(REPLICAS)

## The five-organisation network on 127.0.0.1 (README "Five-minute tour"); Ctrl-C stops it.
## DEVNET_ARGS=--detach returns at once; stop with `pedigree-devnet --dir .devnet down`.
devnet: deps
	$(CARGO) build --locked --release -p pedigree-node -p pedigree-plant -p pedigree-client -p pedigree-devnet
	$(CARGO_TARGET_DIR)/release/pedigree-devnet --dir .devnet up $(DEVNET_ARGS)
