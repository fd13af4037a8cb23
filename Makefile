# DM Ledger — every entry point. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOME_DIR ?= $(CURDIR)/.home
PORT ?= 8765
QUICK ?=
MINUTES ?= 10

.PHONY: help venv run test lint format pg chromium firefox web-ext faketime bench soak screenshots extension clean

help:
	@echo "make run    - set up and serve DM Ledger (http://127.0.0.1:8765) on the embedded cloud with demo data"
	@echo "make test   - set up and run lint, types and the whole test suite"
	@echo "make lint   - ruff and mypy only"
	@echo "make bench [QUICK=1] - benchmarks, results in bench/results.json"
	@echo "make soak [MINUTES=10] - fault-injecting soak run of the sync engine"
	@echo "make extension - the browser extension's zip for a store, in dist/"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "DM Ledger needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	@test -f "$(HOME_DIR)/config.toml" || $(VENV)/bin/dmledger --home "$(HOME_DIR)" init --operator Sarah --actor sarah.sells
	$(VENV)/bin/dmledger --home "$(HOME_DIR)" cloud init
	$(VENV)/bin/dmledger --home "$(HOME_DIR)" demo
	$(VENV)/bin/dmledger --home "$(HOME_DIR)" serve --port $(PORT) $(if $(NO_BROWSER),--no-browser,)

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

# Start the local PostgreSQL if it is installed but not running. Without one, the
# PostgreSQL tests skip with a reason (and fail under CI=true).
pg:
	@if command -v pg_lsclusters >/dev/null 2>&1; then \
	  if ! pg_lsclusters --no-header 2>/dev/null | grep -q online; then \
	    echo "starting PostgreSQL"; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	  fi; \
	fi

# Debian's chromium for the browser tests; never a downloaded browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null) \
	  || echo "could not install chromium: browser tests will skip (fail under CI=true)"; }

# Debian's firefox-esr for the Firefox extension tests (tests/extension/test_firefox.py),
# driven over its own WebDriver BiDi agent: no geckodriver, never a downloaded browser.
firefox:
	@command -v firefox-esr >/dev/null 2>&1 || { \
	  echo "installing Debian's firefox-esr"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr >/dev/null) \
	  || echo "could not install firefox-esr: the Firefox tests will skip (fail under CI=true)"; }

# Mozilla's web-ext (pinned in package.json and package-lock.json) lints the Firefox zip.
web-ext: node_modules/.bin/web-ext

node_modules/.bin/web-ext: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@ \
	  || echo "could not install web-ext: its lint test will skip (fail under CI=true)"; \
	else echo "npm is missing: the web-ext lint test will skip (fail under CI=true)"; fi

# Debian's faketime for the process test of skewed clocks (tests/sync/test_sync_faketime.py).
faketime:
	@command -v faketime >/dev/null 2>&1 || { \
	  echo "installing Debian's faketime"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null) \
	  || echo "could not install faketime: its clock test will skip (fail under CI=true)"; }

test: venv pg chromium firefox web-ext faketime lint
	$(VENV)/bin/pytest -q

bench: venv pg
	$(PY) -m bench.run $(if $(QUICK),--quick,)

soak: venv pg
	$(PY) -m bench.soak --minutes $(MINUTES)

screenshots: venv chromium
	$(PY) -m bench.screenshots
	$(PY) -m bench.screenshots_extension

# The zips the extension stores take (Chrome Web Store and Edge Add-ons; addons.mozilla.org):
# the extension folder with each store's manifest, no `key` (src/dmledger/native/package.py).
extension: venv
	$(PY) -c 'from pathlib import Path; from dmledger.native.package import build_all; \
	  print(*build_all(Path("dist")), sep="\n")'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist node_modules
