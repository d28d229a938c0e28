# Unico: `make run` starts a demo server, `make test` lints and runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UNICO_HOST ?= 127.0.0.1
UNICO_PORT ?= 8000
# Both stores are always tested; point this elsewhere to use another PostgreSQL server.
UNICO_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
export UNICO_TEST_POSTGRES_URL

.PHONY: install run test lint format typecheck bench clean movielens browser-libs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/unico demo --host $(UNICO_HOST) --port $(UNICO_PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The browser tests drive Debian's Chromium (tests/e2e/test_browser.py fails without it).
/usr/bin/chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'

# MovieLens-100k for the recommenders' offline evaluation (read from the wheel, never installed).
MOVIELENS := .unico/data/recbole-1.2.1-py3-none-any.whl
$(MOVIELENS): | $(BIN)/python
	$(BIN)/python -m pip download --quiet --no-deps recbole==1.2.1 -d .unico/data

movielens: $(MOVIELENS)

# Third-party browser libraries the end-to-end tests load into Chromium (analytics.js 2.0,
# RudderStack's JavaScript SDK, axe-core), at the versions pinned in the lock file.
BROWSER_LIBS := tests/e2e/js/node_modules/.installed
$(BROWSER_LIBS): tests/e2e/js/package.json tests/e2e/js/package-lock.json
	npm ci --prefix tests/e2e/js --no-audit --no-fund --silent
	touch $(BROWSER_LIBS)

browser-libs: $(BROWSER_LIBS)

test: lint /usr/bin/chromium $(MOVIELENS) $(BROWSER_LIBS) gbstats-check
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .unico .pytest_cache .mypy_cache .ruff_cache tests/e2e/js/node_modules

# The experiments statistics engine against GrowthBook's own engine, in a venv of its own.
include tests/experiments/gbstats.mk
