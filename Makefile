# partnerpulse: every command the README names is a target here. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "partnerpulse needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): on Debian, apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create or update the virtual environment (.venv)

run: $(STAMP) ## Start the whole stack on the embedded broker (Ctrl+C stops)
	$(VENV)/bin/partnerpulse up

demo: $(STAMP) ## Simulate a small MSP, replay it through the whole pipeline, show who behaves like a partner
	$(VENV)/bin/partnerpulse demo

test: $(STAMP) lint check-rules ## Lint, type-check, check the Prometheus rules and run every test
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Unit tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy --strict
	$(VENV)/bin/ruff check services tests bench
	$(VENV)/bin/ruff format --check services tests bench
	$(VENV)/bin/mypy

PROMTOOL ?= promtool

check-rules: ## promtool: Prometheus config and rules valid, alert rule unit tests pass
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool not found: apt-get install prometheus"; exit 1; }
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.yml

format: $(STAMP) ## Apply ruff's formatting and import order
	$(VENV)/bin/ruff format services tests bench
	$(VENV)/bin/ruff check --fix services tests bench

bench: bench-ingest bench-classifier ## Every benchmark (not part of `make test`)

bench-ingest: $(STAMP) ## Ingest throughput and latency vs a bare handler; writes docs/benchmarks.md
	$(PY) -m bench.ingest --write docs/benchmarks.md

bench-classifier: $(STAMP) ## Classifier vs a trivial Faust agent, and end-to-end latency; writes docs/benchmarks.md
	$(PY) -m bench.classifier --write docs/benchmarks.md

clean: ## Remove local state (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install run demo test test-unit lint check-rules format bench bench-ingest bench-classifier clean
