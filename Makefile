# Pedigree build entry points. `make devnet` runs the local network, `make test` runs every test.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/pedigree/target
export PEDIGREE_CONFORMANCE ?= $(abspath ../shared/conformance)
CARGO ?= cargo

.PHONY: deps build test lint fmt conformance bench soak

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
