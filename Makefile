# drone-patrol developer commands. `make test` and `make demo` need nothing but Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench sitl-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	bash .ci/city-packages
	$(BIN)/pytest -q -m "not sitl" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check drone_patrol tests benchmarks tools training
	$(BIN)/ruff format --check drone_patrol tests benchmarks tools training
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(STAMP)
	$(BIN)/drone-patrol demo

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

# Needs ArduPilot SITL: ARDUPILOT_SITL=/path/to/arducopter (see README).
sitl-test: $(STAMP)
	$(BIN)/pytest -q -m sitl tests/sitl $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
