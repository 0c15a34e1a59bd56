# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if missing and installs geoplan with its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SYSTEM_STAMP := $(VENV)/.system-stamp
DEMO_OUT ?= out/demo

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# Debian's chromium and fonts-noto-cjk (browser tests, reports); see the script.
$(SYSTEM_STAMP): scripts/install_system_deps.sh $(STAMP)
	bash scripts/install_system_deps.sh
	@touch $(SYSTEM_STAMP)

demo: $(SYSTEM_STAMP)
	$(BIN)/geoplan demo --out $(DEMO_OUT) --overwrite
	$(BIN)/geoplan report $(DEMO_OUT) --overwrite

test: $(SYSTEM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
