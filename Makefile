# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# The virtual environment is created on first use from pyproject.toml, pinned by constraints.txt
# (the versions the test suite last passed with).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test test-slow bench venv constraints clean system-deps

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crmwh demo

# PostgreSQL and Chromium for the publishing and report tests (Debian packages, installed if missing).
system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/pytest

# Scale tests (hundreds of thousands of leads): minutes each, not part of `make test`.
test-slow: $(STAMP) system-deps
	$(BIN)/pytest -m slow

bench: $(STAMP)
	$(BIN)/python bench/bench_generator.py
	$(BIN)/python bench/bench_sandbox.py

# Refresh the pins after a dependency change (then run `make test`).
constraints:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
