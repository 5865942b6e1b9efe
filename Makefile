# partnerpulse: every command the README names is a target here. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# make test runs its tests in this many pytest-xdist processes. Most integration tests wait
# on real processes (brokers, HTTP, SMTP), so four keep two cores busy (worksteal: an idle process takes tests from a busy one); 1 runs them in order.
TEST_WORKERS ?= 4

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "partnerpulse needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    rm -rf $(VENV); apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "could not create $(VENV): on Debian, sudo apt-get install python3-venv"; exit 1; fi; }
	@# uv (from PyPI) resolves and installs in parallel: about 5x less time than pip here;
	@# pip does it alone if uv cannot be installed.
	{ $(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'; } \
	  || $(PY) -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory system-deps
	@touch $(STAMP)

install: $(STAMP) ## Create or update the virtual environment (.venv)

run: $(STAMP) ## Start the whole stack on the embedded broker (Ctrl+C stops)
	$(VENV)/bin/partnerpulse up

demo: $(STAMP) ## Simulate a small MSP, replay it through the whole pipeline, show who behaves like a partner
	$(VENV)/bin/partnerpulse demo

# Debian packages. To run: pango and fonts for WeasyPrint (the report's PDF), poppler-utils
# (pdftotext, pdftoppm). To test, also: prometheus (promtool and a real Prometheus), chromium
# and chromium-driver (the report in a real browser). Installed when run as root;
# otherwise the target prints the exact apt-get line and stops. As root, `make test` thus
# runs apt-get install for prometheus, chromium and chromium-driver when they are missing.
RUN_PACKAGES ?= libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils
TEST_PACKAGES ?= prometheus chromium chromium-driver

define install_debian
	@command -v dpkg >/dev/null || { echo "not Debian: install the equivalents of $(1) yourself"; exit 0; }; \
	missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | xargs); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "partnerpulse needs these Debian packages: sudo apt-get install --no-install-recommends $$missing"; exit 1; \
	fi
endef

system-deps: ## Debian packages the services need (as root: installed; else: the command to run)
	$(call install_debian,$(RUN_PACKAGES))

system-packages: system-deps ## Debian packages the tests need too (prometheus, chromium)
	$(call install_debian,$(TEST_PACKAGES))

test: $(STAMP) system-packages lint check-rules ## Lint, type-check, check the Prometheus rules, run every test but the acceptance tier
	$(PY) -m pytest -m "not acceptance" -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-acceptance: $(STAMP) system-packages ## The slow acceptance tier: `up`, `evaluate`, real Prometheus, chromium, restarts
	$(PY) -m pytest -m acceptance $(PYTEST_ARGS)

test-all: test test-acceptance ## What CI runs (.ci/run): make test, then make test-acceptance

test-unit: $(STAMP) ## Unit tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy --strict
	$(VENV)/bin/ruff check services tests bench deploy docs
	$(VENV)/bin/ruff format --check services tests bench deploy docs
	$(VENV)/bin/mypy

PROMTOOL ?= promtool

architecture: $(STAMP) ## Check the import layering of services/ and draw docs/architecture.svg
	$(PY) docs/layout.py

rules: $(STAMP) ## Generate the Prometheus and Grafana alert rules from deploy/alerting/rules.yaml
	$(PY) deploy/alerting/generate.py

check-rules: $(STAMP) ## Alert rules generated and in sync; promtool: config and rules valid, rule unit tests pass
	$(PY) deploy/alerting/generate.py --check
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool not found: make system-packages (as root), or apt-get install prometheus"; exit 1; }
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.yml

format: $(STAMP) ## Apply ruff's formatting and import order
	$(VENV)/bin/ruff format services tests bench
	$(VENV)/bin/ruff check --fix services tests bench

bench: bench-ingest bench-classifier bench-report ## Every benchmark (not part of `make test`)

bench-ingest: $(STAMP) ## Ingest throughput and latency vs a bare handler; writes docs/benchmarks.md
	$(PY) -m bench.ingest --write docs/benchmarks.md

bench-classifier: $(STAMP) ## Classifier vs a trivial Faust agent, and end-to-end latency; writes docs/benchmarks.md
	$(PY) -m bench.classifier --write docs/benchmarks.md

bench-scale: $(STAMP) ## 500 clients x 90 days (5 large) drained by 1 and 3 workers, kill and restart recovery; writes docs/benchmarks.md
	$(PY) -m bench.scale --write docs/benchmarks.md

bench-report: $(STAMP) system-deps ## The partnership review: one client's quarter, and 500 clients; writes docs/benchmarks.md
	$(PY) -m bench.report --write docs/benchmarks.md

report-picture: $(STAMP) system-deps ## Page 1 of a demo client's report as docs/img/report-page1.png (the README's picture)
	$(PY) -m bench.report_picture --out docs/img/report-page1.png

fuzz: $(STAMP) ## schemathesis over every OpenAPI spec against `partnerpulse up` (0 server errors); writes docs/security.md
	$(PY) -m tests.fuzz.schemathesis_run --write docs/security.md

clean: ## Remove local state (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install run demo test test-acceptance test-all test-unit lint check-rules rules architecture format bench bench-ingest bench-classifier bench-scale bench-report report-picture fuzz system-deps system-packages clean
