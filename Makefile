# Two commands for a newcomer: `make run` (the demo on the embedded DuckDB) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The web console's browser libraries (Cytoscape.js, uPlot) come from npm, never vendored.
CONSOLE := glimpse/console
CONSOLE_STAMP := $(CONSOLE)/node_modules/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CONSOLE_STAMP): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_STAMP)

run: $(STAMP) $(CONSOLE_STAMP)
	$(BIN)/glimpse demo --serve

test: $(STAMP) $(CONSOLE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(CONSOLE)/node_modules
