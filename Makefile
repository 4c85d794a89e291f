# wimsnap build and test entry points; see README.md "Development".
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
# Build tags for vet, test, lint and fuzz: "wimlib" enables the wimlib-imagex oracle tests.
GOTAGS ?= wimlib
# Pinned tools, built with the local Go into a cache folder shared by all checkouts.
TOOLS ?= $(shell echo "$${XDG_CACHE_HOME:-$$HOME/.cache}/wimsnap/tools")
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
GOLANGCI_LINT_VERSION := v2.15.0
FUZZTIME ?= 30s
# Go's fuzzer shrinks every new interesting input for up to a minute by default, and all
# workers wait meanwhile. On inputs of a few KiB (WIMs, hives, packs) shrinking never ends
# early (it tries cutting out every span between two offsets), so each new input takes the whole limit,
# and the seeds' first mutants alone took every target's FUZZTIME at 5s each. A count of
# calls bounds it by the work done instead: 1000 calls shrink a few KiB by its tail and
# some single bytes, in tens of milliseconds for the WIM reader.
FUZZMINIMIZETIME ?= 1000x
FUZZPKGS ?= ./...

# Debian packages: the wimlib oracle (wimtools, libwim-dev; gcc and pkg-config for its cgo
# binding), restic and debootstrap for make bench, attr (getfattr/setfattr) for xattr tests,
# time (/usr/bin/time) for bench figures, ca-certificates for the Go module proxy, hivex's
# shell (libhivex-bin) to check registry hives, ntfs-3g and mkntfs for NTFS volumes, exfat-fuse and
# exfatprogs for a case-insensitive FUSE file system, Wine and a MinGW compiler (for a DLL shim) to
# run the Windows build.
DEB_PACKAGES := wimtools libwim-dev gcc libc6-dev pkg-config restic debootstrap attr time ca-certificates \
	libhivex-bin ntfs-3g exfat-fuse exfatprogs wine wine64 gcc-mingw-w64-x86-64
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all build test vet deps deps-apt deps-minio lint golangci-lint layering fuzz bench clean

all: build

# A static binary, as restic ships: without cgo nothing is linked at run time (the dynamic loader
# and libc's start-up cost 1.7 ms of every run, a fifth of a command's start-up), and owner and
# host names are looked up in /etc files alone; make bench builds it the same way. -buildvcs=auto
# stamps the commit that 'wimsnap version' prints, also where GOFLAGS says -buildvcs=false.
build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o bin/wimsnap ./cmd/wimsnap

# go_install NAME PACKAGE MODULE VERSION: installs PACKAGE@VERSION into $(TOOLS)/NAME unless
# it is there already; $(TOOLS)/NAME.stamp records the version. A binary without a stamp is
# accepted when its embedded build information names MODULE at VERSION.
define go_install
	@bin="$(TOOLS)/$(1)"; stamp="$(TOOLS)/$(1).stamp"; \
	if [ -x "$$bin" ] && [ "$$(cat "$$stamp" 2>/dev/null)" = "$(4)" ]; then \
		echo "$(1) $(4): present in $(TOOLS)"; \
	elif [ -x "$$bin" ] && $(GO) version -m "$$bin" 2>/dev/null | \
			awk '$$1 == "mod" && $$2 == "$(3)" && $$3 == "$(4)" { ok = 1 } END { exit !ok }'; then \
		echo "$(1) $(4): present in $(TOOLS)"; echo "$(4)" >"$$stamp"; \
	else \
		echo "$(1) $(4): building into $(TOOLS) (takes minutes once)"; \
		mkdir -p "$(TOOLS)"; rm -f "$$stamp"; \
		GOBIN="$(TOOLS)" GOFLAGS= $(GO) install "$(2)@$(4)"; \
		echo "$(4)" >"$$stamp"; \
	fi
endef

deps: deps-apt deps-minio

deps-apt:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || echo "$$p"; \
	done); \
	if [ -z "$$missing" ]; then \
		echo "Debian packages: all present"; \
	else \
		echo "Debian packages: installing" $$missing; \
		$(SUDO) apt-get update; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

deps-minio:
	$(call go_install,minio,github.com/minio/minio,github.com/minio/minio,$(MINIO_VERSION))

golangci-lint:
	$(call go_install,golangci-lint,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,github.com/golangci/golangci-lint/v2,$(GOLANGCI_LINT_VERSION))

vet:
	$(GO) vet -tags '$(GOTAGS)' ./...

# Tests find MinIO through WIMSNAP_MINIO and the tools on PATH. WIMSNAP_TEST_REQUIRE (e.g.
# minio,wimlib) passes through from the environment: a test that needs a listed tool fails
# instead of skipping when the tool is missing.
test: export PATH := $(TOOLS):$(PATH)
test: export WIMSNAP_MINIO := $(TOOLS)/minio
test: deps
	$(GO) vet -tags '$(GOTAGS)' ./...
	GOOS=windows $(GO) build ./... && GOOS=windows $(GO) vet ./...
	$(GO) test -tags '$(GOTAGS)' -timeout 60m ./...
	# The concurrent parts (compression pipeline, parallel apply, repository sink, stores) under the race detector.
	$(GO) test -race -short -timeout 20m ./wim/ ./snapshot/ ./remote/... ./index/

layering:
	scripts/layering.sh

lint: golangci-lint layering
	"$(TOOLS)/golangci-lint" run ./...

# Every fuzz target of every package in FUZZPKGS, one after another, FUZZTIME each
# (scripts/fuzz.sh, which also tells a finding from Go 1.26's end-of-fuzztime race).
fuzz:
	GO='$(GO)' GOTAGS='$(GOTAGS)' FUZZTIME='$(FUZZTIME)' FUZZMINIMIZETIME='$(FUZZMINIMIZETIME)' \
		scripts/fuzz.sh $(FUZZPKGS)

bench: deps
	$(GO) test -tags '$(GOTAGS)' -run '^$$' -bench . -benchmem ./...
	TOOLS="$(TOOLS)" scripts/bench.sh

clean:
	rm -rf bin
