# `make demo` and `make test` set themselves up from nothing (venv, pip, npm) and are fast when re-run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The min check's own venv: the lowest aws-cdk-lib / constructs / cdk-nag pyproject.toml declares.
MIN_VENV := .venv-min
MIN_BIN := $(MIN_VENV)/bin
MIN_STAMP := $(MIN_VENV)/.installed
# Unit tests whose outcome does not depend on the CDK version (packaging, the catalog and its CLI,
# diagrams of hand-written templates, import contracts, the reserved-key rule): test-min skips them.
MIN_VERSION_FREE := test_packaging.py test_catalog.py test_diagram.py test_architecture.py test_reserved_values.py
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export NODE_NO_WARNINGS := 1
export CDK_DISABLE_VERSION_CHECK := 1
# Let Python cache bytecode (and pytest its rewritten test modules) when the environment says not to:
# otherwise every process of the suite recompiles the project and its ~300 test modules (14 s of each
# xdist worker's 21 s collection here). __pycache__ is git-ignored and left out of every Lambda asset.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test test-min test-browser typecheck synth lint bench serve clean

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

test: setup  ## the whole suite, the type check and the min-version check
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory typecheck
	@# The min-version check runs beside the suite, which alone leaves about a third of a core idle
	@# (single-threaded stretches); its output follows the suite's.
	@$(MAKE) --no-print-directory test-min > $(VENV)/test-min.log 2>&1 & floor=$$!; \
	$(BIN)/python -m pytest -q -n 2 --dist loadfile; suite=$$?; \
	wait $$floor; floor=$$?; echo "--- make test-min ---"; cat $(VENV)/test-min.log; \
	exit $$(( suite || floor ))

typecheck: setup  ## mypy over the constructs, patterns/core and each handler folder (patterns/local excluded)
	$(BIN)/mypy
	@for folder in lambdas/*/; do $(BIN)/mypy --no-error-summary "$$folder" || exit 1; done

BROWSER_STAMP := $(VENV)/.browser-installed

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,browser]'
	touch $@

test-browser: setup $(BROWSER_STAMP)  ## the web app in headless Chromium (apt-installs chromium + chromium-driver as root)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
		else \
			echo "test-browser needs Debian's chromium and chromium-driver: sudo apt-get install -y chromium chromium-driver"; \
			exit 1; \
		fi; \
	fi
	$(BIN)/python -m pytest -q tests/browser/test_web_app.py

$(MIN_STAMP): pyproject.toml constraints.txt .ci/min_constraints.py
	test -x $(MIN_BIN)/python || $(PYTHON) -m venv $(MIN_VENV)
	$(BIN)/python .ci/min_constraints.py > $(MIN_VENV)/constraints.txt
	$(MIN_BIN)/python -m pip install -q --disable-pip-version-check -c $(MIN_VENV)/constraints.txt -e '.[dev]'
	touch $@

test-min: $(MIN_STAMP) node_modules/.installed  ## on the lowest declared versions: synth every demo stack, unit tests
	@$(MIN_BIN)/python -c 'import aws_cdk, constructs, cdk_nag, importlib.metadata as m; \
		print("min versions:", *(f"{p}=={m.version(p)}" for p in ("aws-cdk-lib", "constructs", "cdk-nag")))'
	rm -rf $(MIN_VENV)/cdk.out
	@# The demo synth (cdk-nag as validation plugins) runs beside the construct tests: one core each.
	CDK_OUTDIR=$(MIN_VENV)/cdk.out $(MIN_BIN)/python app.py & synth=$$!; \
	$(MIN_BIN)/python -m pytest -q -n 2 --dist loadfile tests/unit $(MIN_VERSION_FREE:%=--ignore=tests/unit/%); \
	tests=$$?; wait $$synth && exit $$tests

serve: setup  ## keep a local cloud running for your own `cdk deploy` / aws CLI calls
	$(BIN)/python -m patterns.local serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench.synth
	$(BIN)/python -m bench.local
	$(BIN)/python -m bench.stream_pipeline

clean:
	rm -rf cdk.out .pytest_cache $(MIN_VENV)/cdk.out
