# finegrain: the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
# Long tests are skipped with -short; `make test` runs the full suite (what CI runs).
GOTEST_FLAGS ?= -timeout 60m
export TF_CPP_MIN_LOG_LEVEL ?= 1

.PHONY: all setup pyenv build vet test test-short demo bench bench-quick fuzz clean

all: build

# TensorFlow's C library and headers from TensorFlow's pinned release wheel (scripts/tensorflow.env).
# PREFIX=/usr/local as root; TF_VARIANT=gpu for the CUDA build and the CUDA runtime wheels it needs
# (scripts/tensorflow-cuda.env), under PREFIX/nvidia (README.md, "GPU").
setup:
	@bash scripts/setup-tensorflow.sh
	@bash scripts/setup-jpeg.sh

# Python reference oracles for the tests (never used by the product).
pyenv: setup
	@bash scripts/setup-python.sh

build: setup
	$(GO) build ./...

vet: setup
	$(GO) vet ./...

test: setup pyenv
	@bash scripts/setup-browser.sh
	$(GO) vet ./...
	$(GO) test $(GOTEST_FLAGS) ./...
	@# The fallback JPEG decoder (Go's image/jpeg) that -tags noturbojpeg selects.
	$(GO) test -tags noturbojpeg $(GOTEST_FLAGS) ./pipeline/

test-short: setup
	$(GO) test -short ./...

demo: setup
	@bash scripts/demo.sh

bench: setup pyenv
	@bash scripts/bench.sh full
	@bash scripts/bench-serve.sh
	@bash scripts/bench-cluster.sh

bench-quick: setup pyenv
	@bash scripts/bench.sh quick

FUZZTIME ?= 30s
fuzz: setup
	@bash scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf runs bench/out
