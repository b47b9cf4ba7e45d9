# drone-patrol developer commands. `make demo` needs nothing but Python 3.11+; `make test` also
# installs the Debian packages of tools/system-packages.txt when missing (see `provision`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: install provision test lint demo bench sitl-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The system packages the tests need (tools/system-packages.txt): installed as root with
# apt-get, otherwise one line saying what to install. Under `make test` a test whose
# package is missing fails instead of skipping.
provision:
	tools/provision.sh

test: provision $(STAMP)
	DRONE_PATROL_TESTS_REQUIRE_SYSTEM=1 $(BIN)/pytest -q -m "not sitl" $(PYTEST_ARGS)

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
