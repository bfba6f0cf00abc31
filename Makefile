# Varco. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export PATH := $(PATH):/usr/local/go/bin
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

GO        ?= go
BIN       := bin
PKGS_TEST := pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools iproute2 util-linux postgresql mosquitto chromium
PKGS_RUN  := pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools iproute2 curl jq
PKGS_CROSS := gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross \
	libpcsclite-dev:arm64 libpcsclite-dev:armhf pkg-config qemu-user file
FUZZTIME  ?= 10s
CMDS      := varco varco-door varco-admin

.PHONY: help run test bench lint fuzz cross build deps-test go-check

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

go-check:
	@$(GO) version >/dev/null 2>&1 || { echo "Go $$(cat .go-version) is needed: https://go.dev/dl/ (install to /usr/local/go)"; exit 1; }
	@want=$$(cat .go-version); have=$$($(GO) env GOVERSION); \
	  case "$$have" in go$$want*) ;; *) echo "Go $$want is needed, found $$have"; exit 1;; esac

build: go-check ## build the binaries into bin/
	@.ci/deps.sh libpcsclite-dev
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

run: build ## the demo: varco-admin, two doors on virtual readers, enrolled virtual CIEs; `varco tap` and the panel
	@.ci/deps.sh $(PKGS_RUN)
	@.ci/with-pcscd.sh .ci/demo.sh $(BIN)

test: go-check ## install what tests need, start pcscd if needed, vet, run every test with -race
	@.ci/deps.sh $(PKGS_TEST)
	$(GO) vet ./...
	@.ci/with-pcscd.sh $(GO) test -race -count=1 -timeout 20m ./...

bench: go-check ## benchmarks over pcscd + vpcd (door and enrolment reads), figures printed
	@.ci/deps.sh $(PKGS_TEST)
	@.ci/with-pcscd.sh $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./...

lint: go-check ## gofmt, go vet, go mod tidy check
	@bad=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$bad" ] || { echo "gofmt needed: $$bad"; exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum not tidy: run go mod tidy"; exit 1; }

fuzz: go-check ## run every fuzz target for FUZZTIME (default 10s) each
	@.ci/deps.sh libpcsclite-dev
	@for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

cross: go-check ## build the binaries for the Raspberry Pi (linux/arm64, linux/arm v7) with cgo
	@.ci/deps.sh $(PKGS_CROSS)
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
	  PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig \
	  $(GO) build -o $(BIN)/linux-arm64/ $(addprefix ./cmd/,$(CMDS))
	CGO_ENABLED=1 GOOS=linux GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc \
	  PKG_CONFIG_LIBDIR=/usr/lib/arm-linux-gnueabihf/pkgconfig \
	  $(GO) build -o $(BIN)/linux-armv7/ $(addprefix ./cmd/,$(CMDS))
	@file $(BIN)/linux-arm64/* $(BIN)/linux-armv7/*
	@# Smoke run under qemu-user with the multiarch libc and libpcsclite:
	@# verify the real EF.SOD against the real CSCA set on each architecture.
	qemu-aarch64 $(BIN)/linux-arm64/varco cie verify-sod --csca testdata/cie-real/csca testdata/cie-real/ef-sod-2022.bin
	qemu-arm $(BIN)/linux-armv7/varco cie verify-sod --csca testdata/cie-real/csca testdata/cie-real/ef-sod-2022.bin
