# The two commands a new user needs: `make demo` and `make test`. Everything they need is installed here.
SWIFT ?= swift
RELEASE_FLAGS := -c release --static-swift-stdlib
# Fully static release executables (see Package.swift); every script that builds them says the same.
export AMBER_STATIC := 1
# What `amber --version` names (Package.swift); "unknown" outside git.
export AMBER_BUILD_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
BIN := $(shell pwd)/.build/release

.PHONY: deps build guest test unit-test guest-test demo bench fuzz format lint clean install man

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product amber
	$(SWIFT) build $(RELEASE_FLAGS) --product amber-vmm
	$(SWIFT) build $(RELEASE_FLAGS) --product amberd

guest: deps
	@scripts/make-test-guest

unit-test: deps
	$(SWIFT) build && scripts/check-cli-dependencies && $(SWIFT) test

guest-test: build guest
	@scripts/guest-tests

# lint first: a formatting slip fails in seconds, not after the 25-minute suites.
test: lint unit-test guest-test

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

# `make build` first (as yourself), then `sudo make install` (or DESTDIR=/tmp/stage make install for a package):
# the three binaries, shell completions generated from the command definitions, man pages when `make man` made
# them, and a systemd unit for amberd.
PREFIX ?= /usr/local
DESTDIR ?=
SHARE := $(DESTDIR)$(PREFIX)/share
install:
	@test -x $(BIN)/amber -a -x $(BIN)/amber-vmm -a -x $(BIN)/amberd || { echo "error: run 'make build' first" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/bash-completion/completions $(SHARE)/zsh/site-functions \
		$(SHARE)/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BIN)/amber $(BIN)/amber-vmm $(BIN)/amberd $(DESTDIR)$(PREFIX)/bin/
	for tool in amber amberd; do \
		$(BIN)/$$tool --generate-completion-script bash > $(SHARE)/bash-completion/completions/$$tool && \
		$(BIN)/$$tool --generate-completion-script zsh > $(SHARE)/zsh/site-functions/_$$tool && \
		$(BIN)/$$tool --generate-completion-script fish > $(SHARE)/fish/vendor_completions.d/$$tool.fish || exit 1; \
	done
	sed 's|@BINDIR@|$(PREFIX)/bin|g' contrib/amberd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/amberd.service
	@if ls out/man/*.1 >/dev/null 2>&1; then install -d $(SHARE)/man/man1 && install -m 0644 out/man/*.1 $(SHARE)/man/man1/; fi

# Man pages from the command definitions (swift-argument-parser's generate-manual plugin; offline): one page per
# command, amber.1, amber.snapshot.take.1, ..., amberd.1, into out/man. The plugin builds the tools itself, in debug
# (its release build would not get --static-swift-stdlib).
man:
	$(SWIFT) package plugin --allow-writing-to-package-directory generate-manual --multi-page --configuration debug
	mkdir -p out/man && cp .build/plugins/GenerateManual/outputs/amber/*.1 .build/plugins/GenerateManual/outputs/amberd/*.1 out/man/

clean:
	rm -rf .build out
