# notebook-lifecycle: everything a fresh machine needs is installed by these targets.
#   make synth   create .venv with only what synthesis needs (the library with its `cdk` extra at the
#                pinned aws-cdk-lib, and the pinned CDK CLI), synthesize app.py into cdk.out/
#   make test    add the test toolchain (the `dev` extra; Debian packages too, when root) and run the suite
#   make bench   benchmarks (figures go to bench/RESULTS.md)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Pinned Node 22 (from package.json) first on PATH: the CDK CLI and jsii use it.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export NODE_NO_WARNINGS := 1

# The aws-cdk-lib the example app is synthesized and tested with (the same pins as the `dev` extra;
# tests/test_constructs.py checks they agree).
CDK_PINS := aws-cdk-lib==2.275.0 constructs==10.8.1

.PHONY: lint-python install python python-synth node sysdeps synth test bench lint clean

install: python node

# Full toolchain (tests, linters, moto, jupyter): the `dev` extra.
python: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.synth-installed

# Only what synthesis needs: the library with its `cdk` extra (a separate marker, so `make test`
# afterwards still adds the test toolchain).
python-synth: $(VENV)/.synth-installed
$(VENV)/.synth-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[cdk]' $(CDK_PINS)
	touch $@

node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the sandbox tests need (sudo, cron). Only as root; idempotent.
sysdeps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  command -v sudo >/dev/null || missing="$$missing sudo"; \
	  command -v crontab >/dev/null || missing="$$missing cron"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	fi

synth: python-synth node
	rm -rf cdk.out
	cdk synth --no-notices --quiet -o cdk.out
	@ls cdk.out/*.template.json

test: install sysdeps lint-python
	$(BIN)/pytest

# ruff and mypy over the package (the shipped on-instance Python included); part of `make test`
lint-python: install
	$(BIN)/ruff check constructs/notebook_lifecycle
	$(BIN)/mypy

bench: install sysdeps
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/python -m shellcheck --version >/dev/null 2>&1 || true
	shellcheck constructs/notebook_lifecycle/on_instance/*.sh constructs/notebook_lifecycle/on_instance/features/*.sh

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
