# Two commands for a newcomer: `make run` (the demo on the embedded DuckDB) and `make test`.
# Each sets up what it needs: Debian packages (scripts/system-packages.sh), the virtualenv,
# and the console's npm packages.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The web console's browser libraries (Cytoscape.js, uPlot) and its linter come from npm,
# never vendored.
CONSOLE := glimpse/console
CONSOLE_STAMP := $(CONSOLE)/node_modules/.installed

.PHONY: run test lint docs bench clean system-run system-test

system-run:
	PYTHON=$(PYTHON) bash scripts/system-packages.sh run

system-test:
	PYTHON=$(PYTHON) bash scripts/system-packages.sh test

$(STAMP): pyproject.toml collector/_spanwire.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

$(CONSOLE_STAMP): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_STAMP)

run: system-run $(STAMP) $(CONSOLE_STAMP)
	$(BIN)/glimpse demo --serve

lint: $(STAMP) $(CONSOLE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	npm run --silent lint --prefix $(CONSOLE)

test: system-test lint
	$(BIN)/python -m pytest

# docs/cli.md from the commands' own help (a test checks it is current)
docs: $(STAMP)
	$(BIN)/python -m glimpse.cli.reference > docs/cli.md

# every benchmark of docs/performance.md, its figures written there (about 30 minutes, plus the
# large stores' generation the first time: they are kept in bench/results/stores and reused)
bench: $(STAMP)
	$(BIN)/python -m bench report --reuse

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(CONSOLE)/node_modules
