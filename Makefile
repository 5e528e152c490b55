# Stowage: `make run` starts the server, `make test` installs what the tests need and runs them all.
SWIFT ?= swift
PYTHON ?= python3
DATA_DIR ?= ./snapshots

.PHONY: build run test test-swift test-e2e deps bench clean fmt lint

## build: the release binary at .build/release/stowage
build:
	$(SWIFT) build -c release --product stowage

## run: build and start the server on 127.0.0.1:5000 with data in ./snapshots
run: build
	.build/release/stowage serve --data-dir $(DATA_DIR)

## test: install test dependencies, check formatting, then run the Swift tests and the end-to-end tests
test: deps lint
	$(SWIFT) build --build-tests
	$(MAKE) test-swift test-e2e

## fmt: format every Swift file with the checked-in .swift-format
fmt:
	$(SWIFT) format format -i -r --parallel Sources Tests Package.swift

## lint: fail on any formatting or style rule .swift-format enables
lint:
	$(SWIFT) format lint --strict -r --parallel Sources Tests Package.swift

test-swift:
	$(SWIFT) test --skip-build --disable-xctest

test-e2e:
	$(PYTHON) -m pytest -q e2e
	$(PYTHON) -m pytest -q python/tests

deps:
	bash scripts/install-test-deps.sh

## bench: Stowage side by side with docker-registry and moto (BENCH_ARGS=--quick for about 2 minutes)
bench: build
	bash scripts/install-bench-deps.sh
	$(SWIFT) build -c release --product stowage-bench
	$(PYTHON) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf .build
