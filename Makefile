# The two commands a new user needs: `make demo` and `make test`. Everything they need is installed here.
SWIFT ?= swift
RELEASE_FLAGS := -c release --static-swift-stdlib
# Fully static release executables (see Package.swift); every script that builds them says the same.
export AMBER_STATIC := 1
BIN := $(shell pwd)/.build/release

.PHONY: deps build guest test unit-test guest-test demo bench fuzz format lint clean

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product amber
	$(SWIFT) build $(RELEASE_FLAGS) --product amber-vmm
	$(SWIFT) build $(RELEASE_FLAGS) --product amberd

guest: deps
	@scripts/make-test-guest

unit-test: deps
	$(SWIFT) build && $(SWIFT) test

guest-test: build guest
	@scripts/guest-tests

test: unit-test guest-test

demo: build guest
	@scripts/demo

bench: build
	@scripts/bench

# Each fuzz target for SECONDS seconds (libFuzzer + AddressSanitizer, built into .build/fuzz); `make test`
# replays the committed corpus (Fuzz/corpus) without them. See Fuzz/README.md.
SECONDS ?= 60
fuzz: deps
	@scripts/fuzz $(SECONDS)

# The code's style, written down in .swift-format (docs/TESTING.md, "Formatting"): `make format` rewrites the
# Swift files in place, `make lint` lists what it would change and fails if there is anything.
SWIFT_FILES := Package.swift Sources Tests
format:
	$(SWIFT) format format --recursive --parallel --in-place --configuration .swift-format $(SWIFT_FILES)

lint:
	$(SWIFT) format lint --recursive --parallel --strict --configuration .swift-format $(SWIFT_FILES)

clean:
	rm -rf .build out
