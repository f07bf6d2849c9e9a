# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DB ?= .graphsvc/graph.duckdb

.PHONY: run test chromium fmt type bench check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 8765

run: $(STAMP)
	@echo "graphsvc: indexing and watching $(CURDIR); API on http://$(HOST):$(PORT)/docs (Ctrl-C stops)"
	$(BIN)/graphsvc serve . --db $(DB) --host $(HOST) --port $(PORT)

# Debian's chromium for the /docs browser test (installed with apt-get when missing and root)
chromium:
	@bash .ci/install-chromium

test: $(TEST_STAMP) chromium
	$(BIN)/ruff check graphsvc tests bench
	$(BIN)/ruff format --check graphsvc tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

fmt: $(TEST_STAMP)
	$(BIN)/ruff format graphsvc tests bench
	$(BIN)/ruff check --fix graphsvc tests bench

bench: $(TEST_STAMP)
	$(BIN)/python bench/bench_index.py --write
	$(BIN)/python bench/bench_link.py --write
	$(BIN)/python bench/bench_relink.py --write
	$(BIN)/python bench/bench_callgraph.py --write
	$(BIN)/python bench/bench_serve.py --write
	$(BIN)/python bench/bench_memory.py --write
	$(BIN)/python bench/bench_snapshot.py --write
	$(BIN)/python bench/bench_findings.py --write
	$(BIN)/python bench/bench_dead_incremental.py --write
	$(BIN)/python bench/bench_api.py --write
	$(BIN)/python bench/bench_hardware.py --write
	$(BIN)/python bench/bench_architecture.py --write

type: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet 'pyright>=1.1.400,<2'
	$(BIN)/pyright --pythonpath $(BIN)/python graphsvc

check: test type

clean:
	rm -rf $(VENV) .graphsvc
