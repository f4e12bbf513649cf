# TokenMill front door. `make demo` and `make test` do all set-up on a fresh Debian machine.
SWIFT  ?= swift
PYTHON ?= python3
BIN    := .build/release/tokenmill

.PHONY: all setup bench-setup build test bench demo clean

all: build

setup:
	@PYTHON=$(PYTHON) ./scripts/setup.sh

build: setup
	$(SWIFT) build -c release

# One release build serves the CLI and the tests: heavy end-to-end tests run the release binary.
# No test uses @testable import, so the tests build without -enable-testing: the library modules
# keep the flags of `swift build -c release` and are not compiled again (with testing enabled
# they were, for the tests, then once more by the next `make build` or `make demo`). A test
# that needs @testable import would fail to build ("module … was not compiled for testing").
# Then Examples/hello-tokenmill builds TokenMill as another package would, as a dependency (which
# SwiftPM refuses if any target has unsafe flags), and runs it.
test: build
	$(SWIFT) test -c release --disable-testable-imports
	$(SWIFT) run --package-path Examples/hello-tokenmill hello-tokenmill

# The bench needs more than the build: the corpus's sources (bible-kjv, fortunes, vim-runtime,
# man pages) and the Python peers. Writes the tables of docs/performance.md and the summary
# table in README.md.
bench-setup:
	@PYTHON=$(PYTHON) ./scripts/setup.sh bench

bench: bench-setup build
	$(PYTHON) bench/run.py

demo: build
	./scripts/demo.sh

clean:
	rm -rf .build out Examples/hello-tokenmill/.build
