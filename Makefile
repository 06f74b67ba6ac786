# CryptoViz developer commands. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	scripts/bootstrap-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## serve on 127.0.0.1:8080 with the embedded defaults
	$(BIN)/cryptoviz serve

demo: $(STAMP)
	$(BIN)/cryptoviz serve --demo

lint: $(STAMP)
	$(BIN)/ruff check cryptoviz plugins tests
	$(BIN)/ruff format --check cryptoviz plugins tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit  ## the whole suite: ruff, mypy --strict, pytest

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.bench_replay

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
