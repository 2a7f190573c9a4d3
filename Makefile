# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# `make test` first installs the Debian packages the tests need (as root) or names them
# and the command that installs them (.ci/system-packages).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SRC := server/podium_server client/podium_client
LINTED := $(wildcard server client tests bench)
# Tests run in a private network namespace holding only `lo` (a safety net: test traffic
# can reach nothing but 127.0.0.1). Where unshare is not permitted they run as they are.
NETNS := $(shell unshare -rn true 2>/dev/null && echo "unshare -rn")

.PHONY: run test system-packages lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/podium serve --demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy $(SRC)

pytest: $(VENV)/.test-installed
	$(NETNS) sh -c 'ip link set lo up 2>/dev/null; exec $(BIN)/python -m pytest $(PYTEST_ARGS)'

system-packages:
	@PYTHON=$(PYTHON) sh .ci/system-packages

test: system-packages
	@$(MAKE) --no-print-directory lint typecheck pytest

bench: $(VENV)/.test-installed
	$(NETNS) sh -c 'ip link set lo up 2>/dev/null; $(BIN)/python bench/checkins.py && $(BIN)/python bench/relay.py'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
