# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make demo   create .venv, install lifecircle, run the demo into ./lifecircle-demo
#   make test   create .venv, install lifecircle with its test tools, lint (with the import
#               layers contract), type-check, test with a coverage report
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= lifecircle-demo

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/lifecircle demo --out $(DEMO_OUT) --force

lint: $(VENV)/.installed-test
	$(BIN)/ruff check lifecircle tests benchmarks
	$(BIN)/ruff format --check lifecircle tests benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	$(BIN)/python -m pytest --cov --cov-report=term

test: lint typecheck pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_access.py
	$(BIN)/python benchmarks/bench_placement.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
