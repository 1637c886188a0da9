# One entry point for people and CI. Every target installs what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
LAKE   ?= .lake
RECORDS ?= 100000
STAMP  := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
NPM_STAMP := node_modules/.installed
export PYSPARK_PYTHON := $(abspath $(BIN)/python)

.PHONY: help install run test test-slow lint fmt check-tools bench bench-check bench-stress bench-load synth clean chromium report notebooks catalog

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

check-tools:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: Python 3.11 not found ($(PYTHON)); install Python 3.11 (e.g. 'apt-get install python3.11 python3.11-venv') or set PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' || { echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); Python >= 3.11 is required: install Python 3.11"; exit 1; }
	@command -v java >/dev/null 2>&1 || { echo "error: Java not found; install a Java 17 runtime (e.g. 'apt-get install openjdk-17-jre-headless') for local Spark"; exit 1; }
	@java -version 2>&1 | head -1 | grep -qE '"17[."]' || { echo "error: Java 17 is required for Spark 3.5 ($$(java -version 2>&1 | head -1)); install openjdk-17 and put it first on PATH"; exit 1; }
	@test -f .jars/manifest.json || command -v mvn >/dev/null 2>&1 || { echo "error: Maven (mvn) not found; install it (e.g. 'apt-get install maven') to fetch Delta Lake's jars from Maven Central"; exit 1; }

$(STAMP): pyproject.toml | check-tools
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	@$(BIN)/python -m pip install --quiet -e '.[dev,cdk]'
	@touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found; install Node.js 20 (e.g. 'apt-get install nodejs npm') for the CDK CLI"; exit 1; }
	@npm ci --silent --no-audit --no-fund
	@touch $(NPM_STAMP)

LAMBDA_STAMP := build/lambda/.installed
JARS_STAMP := .jars/.installed

# Delta Lake 3.3.2 (= emr-7.12.0) and the S3A client of pyspark's Hadoop 3.3.4, from Maven Central with the
# machine's mvn, SHA-256 checked against lakehouse/toolchain/jars.py, kept in .jars/ (later runs work offline).
$(JARS_STAMP): $(STAMP) lakehouse/toolchain/jars.py
	@$(BIN)/python -m lakehouse.toolchain.jars
	@touch $(JARS_STAMP)

# The JVM's class-data archive of those classes (Spark's, Delta's, the JDK's), dumped once by a short local
# session: every later session maps it instead of loading and verifying ~15,000 classes (lakehouse/toolchain/cds.py).
# A speed-up only: when it cannot be dumped, one line says why and sessions start without it.
CDS_STAMP := .jars/cds/.installed
$(CDS_STAMP): $(JARS_STAMP) lakehouse/toolchain/cds.py
	@$(BIN)/python -m lakehouse.toolchain.cds
	@mkdir -p $(dir $(CDS_STAMP)) && touch $(CDS_STAMP)

EMR_DEPS_STAMP := build/emr-deps/.installed
EMR_PYTHON_STAMP := build/emr-python/.installed

# The jobs' third-party modules on EMR (boto3 ...): pinned pure-Python wheels for EMR's Python 3.9 / ARM64,
# shipped by the Compute stack as pydeps.zip (cdk/emr_requirements.txt, docs/adr/0002).
$(EMR_DEPS_STAMP): $(STAMP) cdk/emr_requirements.txt cdk/packaging.py
	@$(BIN)/python -m cdk.packaging
	@touch $(EMR_DEPS_STAMP)

# A bare CPython 3.9 (Debian bullseye's, unpacked here: no system change), the stand-in for EMR's image
# Python that the archive tests run the jobs on (lakehouse/toolchain/emr_python.py).
$(EMR_PYTHON_STAMP): $(STAMP) lakehouse/toolchain/emr_python.py
	@$(BIN)/python -m lakehouse.toolchain.emr_python --dest build/emr-python
	@touch $(EMR_PYTHON_STAMP)

# The operational Lambdas' pinned dependencies, as wheels for the Lambda platform (python3.14, arm64).
$(LAMBDA_STAMP): $(STAMP) lambdas/requirements.txt lambdas/requirements-arrow.txt cdk/lambda_packaging.py
	@$(BIN)/python -m cdk.lambda_packaging
	@touch $(LAMBDA_STAMP)

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

# checkov pins boto3 and packaging below the project's pins, so it has its own venv (tools/checkov-requirements.txt);
# tests/cdk/test_cdk_checkov.py runs its CLI over the synthesized templates (docs/security/SECURITY_CHECKLIST.md).
$(CHECKOV_STAMP): tools/checkov-requirements.txt | check-tools
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet -r tools/checkov-requirements.txt
	@touch $(CHECKOV_STAMP)

install: check-tools $(STAMP) $(JARS_STAMP) $(CDS_STAMP) $(EMR_DEPS_STAMP) $(EMR_PYTHON_STAMP) $(NPM_STAMP) $(LAMBDA_STAMP) $(CHECKOV_STAMP)  ## create .venv, install the project, the Delta/S3A jars (and the JVM's class-data archive of them), the EMR job dependencies and Python 3.9, the pinned CDK CLI and the Lambda dependencies, checkov in .venv-checkov (idempotent)

run: install  ## generate 100k records and run the whole pipeline on the local lake
	$(BIN)/lakehouse generate --records $(RECORDS) --seed 7 --bad-ratio 0.01 --lake-root $(LAKE) --clean
	$(BIN)/lakehouse run --lake-root $(LAKE)
	$(BIN)/lakehouse report --lake-root $(LAKE)

lint: install  ## ruff (lint, McCabe complexity <= 10, format check), functions <= 60 lines, the packages' layers (import-linter; import cycles: tests/unit/test_import_cycles.py)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/function_length.py --max 60
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports --no-cache

fmt: install  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Two workers (one per core): a single session left a core idle a quarter of the time, in the JVM's and the
# CLI subprocesses' serial stretches. --dist loadscope keeps each module on one worker, so its module
# fixtures (a pipeline run, a synthesized app) are built once; --no-loadscope-reorder hands the modules out in
# collection order, which tests/conftest.py starts with the longest (xdist's default order, most tests first,
# left the longest single-test modules to the end, one worker running them alone).
test: install lint  ## lint, then the default test suite (unit + functional), on two workers
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder

test-slow: install chromium  ## slow suite: 25 kill trials, maintenance runs, larger volumes, the report in headless Chromium
	$(BIN)/python -m pytest -q -m slow

chromium:  ## Debian's Chromium, for the report's browser test (needs root or sudo for apt-get)
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium \
		|| { echo "error: could not install Debian's chromium (apt-get install chromium) for the browser test"; exit 1; }; }

report: install  ## write the HTML report of the local lake ($(LAKE)/report.html)
	$(BIN)/lakehouse report --lake-root $(LAKE)

notebooks: install  ## execute notebooks/*.ipynb on the local lake ($(LAKE); `make run` first) into HTML under build/notebooks/
	$(BIN)/python -m lakehouse.local.notebook --lake-root $(LAKE) --output build/notebooks

catalog: install  ## regenerate the data catalog (docs/data_catalog/) and the glossary from the contracts
	$(BIN)/lakehouse catalog

bench: install  ## pipeline benchmark at 100k and 1M records (BENCH_10M=1 adds 10M)
	$(BIN)/python benchmarks/pipeline.py

bench-stress: install  ## stress scenarios (issue 19), quick profile; STRESS_ARGS="--scale 1" for the full sizes
	$(BIN)/python benchmarks/stress.py $(or $(STRESS_ARGS),--quick)

bench-load: install  ## load test (issue 19): 1M and 10M end to end with a 1 % re-run; LOAD_100M=1 adds 100M (streamed, ~2 h, ~80 GB of free disk)
	$(BIN)/python benchmarks/load.py --rerun $(LOAD_ARGS)

bench-check: install  ## regression guard: 1M on the default engine against benchmarks/baseline.json, as a ratio to DuckDB on the same files (fails past 25 %)
	$(BIN)/python benchmarks/bench_check.py

synth: install  ## synthesize every environment's stacks (cdk-nag packs run; findings fail)
	PATH="$(abspath $(BIN)):$$PATH" npx cdk synth -c env=all -q

clean:  ## remove the local lake and build outputs (keeps .venv)
	rm -rf $(LAKE) cdk.out .pytest_cache .ruff_cache

.PHONY: dev docs

# Hooks go where git looks for them: .git/hooks, or the main checkout's when this is a worktree (git's common
# dir, shared by its worktrees; each worktree runs the hooks of its own .pre-commit-config.yaml and .venv).
dev: install  ## make install, then the pre-commit hooks in .git/hooks (docs/guides/PRE_COMMIT.md) and a smoke test of the environment; editor settings: .editorconfig, .vscode/
	$(BIN)/pre-commit install
	$(BIN)/python -m lakehouse.toolchain.smoke

docs: install  ## the documentation site with the API reference (MkDocs, warnings are errors) into build/site/
	$(BIN)/mkdocs build --strict --site-dir build/site
