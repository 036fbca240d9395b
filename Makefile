# `make run` serves the embedded default; `make test` sets up everything the tests need and runs them all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
PYTEST_ARGS ?=

.PHONY: install run test services chromium bench clean

install: $(STAMP)

$(STAMP): pyproject.toml search/_fts5_rank.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

run: install
	$(BIN)/archive serve --host 127.0.0.1 --port 8000

services:
	bash scripts/services.sh

# Debian's chromium for the browser tests (tests/e2e); Playwright drives it and never downloads a browser.
chromium:
	bash scripts/chromium.sh

test: install services chromium
	bash scripts/test.sh $(PYTEST_ARGS)

# The benchmarks' extras too: tantivy-py and pdfminer.six, which bench/search.py and bench/pdf_text.py compare against.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) services
	$(BIN)/python bench/filing.py

clean:
	rm -rf $(VENV) build *.egg-info
