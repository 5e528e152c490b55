# Stowage: `make run` starts the server, `make test` installs what the tests need and runs them all.
SWIFT ?= swift
PYTHON ?= python3
DATA_DIR ?= ./snapshots

# Release builds link the Swift runtime statically: the binary needs only glibc, libstdc++ and libz,
# which is what lets the container image start FROM scratch.
RELEASE = $(SWIFT) build -c release --static-swift-stdlib

.PHONY: build run image test test-swift test-e2e deps bench clean fmt lint

## build: the release binary at .build/release/stowage
build:
	$(RELEASE) --product stowage

## run: build and start the server on 127.0.0.1:5000 with data in ./snapshots
run: build
	.build/release/stowage serve --data-dir $(DATA_DIR)

## image: the container image stowage:<version> and stowage:latest (docker, else podman or buildah; offline)
image: build
	bash scripts/image.sh

## test: install test dependencies, check formatting, then run the Swift tests and the end-to-end tests
test: deps lint
	$(SWIFT) build --build-tests
	$(MAKE) build
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
	$(RELEASE) --product stowage-bench
	$(PYTHON) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf .build
