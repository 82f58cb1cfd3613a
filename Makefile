# One place for the project's commands. `make demo` runs the main job, `make test` the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Generate sample data, build the stores, train, register, and serve on embedded defaults.
demo: setup
	$(BIN)/recsys quickstart

## Lint, type-check and run the whole test suite.
test: setup lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint --failure-threshold warning Dockerfile

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Speed, memory and quality benchmarks (minutes; not part of `make test`).
## Each prints its figures and targets; a script that checks its targets exits 1 on a miss,
## which stops the run there.
bench: setup
	$(BIN)/python benchmarks/bench_cli.py
	$(BIN)/python benchmarks/bench_ranking.py
	$(BIN)/python benchmarks/bench_ranker.py
	$(BIN)/python benchmarks/bench_loop.py
	$(BIN)/python benchmarks/quality_ml100k.py
	$(BIN)/python benchmarks/quality_synthetic.py
	$(BIN)/python -m benchmarks.bench_http
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python -m benchmarks.bench_materialize
	$(BIN)/python -m benchmarks.bench_nbo_export

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
