# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-dev lint typecheck unit bench docs clean

demo: install
	$(BIN)/chargebox demo

test: install-dev lint typecheck unit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .

# The dashboard's browser test drives Debian's chromium (never a downloaded browser build); as root
# (CI) it is installed when missing.
install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq chromium)

lint:
	$(BIN)/ruff check src tests tools bench
	$(BIN)/ruff format --check src tests tools bench

typecheck:
	$(BIN)/mypy

# The schema property tests (tests/protocol: some 4,000 hypothesis cases) run in workers of their own: once, in
# CI, a worker that had run two thousand other tests first raised RecursionError inside hypothesis and every later
# case of that worker failed with it (not reproduced here, with or without CI's hypothesis profile).
# --dist worksteal: a worker that is done takes tests queued for the other, so a few long tests (subprocesses, a
# documented walkthrough) left at the end of one worker's share do not keep the run going alone.
unit:
	$(BIN)/pytest -n 2 --dist worksteal tests/protocol
	$(BIN)/pytest -n 2 --dist worksteal tests --ignore=tests/protocol

# The bench measures uvloop too (the optional `fast` extra), beside plain asyncio.
bench: install-dev
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[fast]'
	$(BIN)/python -m bench

docs: install-dev
	$(BIN)/python tools/gen_config_docs.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
