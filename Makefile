# TokenMill front door. `make demo` and `make test` do all set-up on a fresh Debian machine.
SWIFT  ?= swift
PYTHON ?= python3
BIN    := .build/release/tokenmill

.PHONY: all setup build test bench demo clean

all: build

setup:
	@./scripts/setup.sh

build: setup
	$(SWIFT) build -c release

# One release build serves the CLI and the tests: heavy end-to-end tests run the release binary.
test: build
	$(SWIFT) test -c release

bench: build
	$(PYTHON) bench/run.py

demo: build
	./scripts/demo.sh

clean:
	rm -rf .build out
