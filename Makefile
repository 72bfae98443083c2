# `make demo` and `make test` set themselves up from nothing (venv, pip, npm) and are fast when re-run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export NODE_NO_WARNINGS := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup demo test synth lint bench serve clean

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

demo: setup  ## synthesize every demo stack, deploy them to the local cloud, drive one event each
	$(BIN)/python -m demo

synth: setup
	cdk synth --quiet

test: setup  ## the whole suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

serve: setup  ## keep a local cloud running for your own `cdk deploy` / aws CLI calls
	$(BIN)/python -m patterns.local serve

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m bench.synth
	$(BIN)/python -m bench.local

clean:
	rm -rf cdk.out .pytest_cache
