# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if missing and installs geoplan with its test extras (Python only: this
# works on any system). Then scripts/install_system_deps.sh looks for a browser and a CJK font
# and installs them with apt-get on Debian/Ubuntu when it can (root, or sudo without a
# password); anywhere else it prints what to install and set-up goes on.
PYTHON ?= python3
VENV := .venv
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
else
BIN := $(VENV)/bin
endif
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= maps/demo

.PHONY: demo test bench clean system-deps bytecode

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,app]"
	@touch $(STAMP)

# Checked every time (it takes a moment): a browser installed later is seen, and a missing one
# is named again.
system-deps: $(STAMP)
	@bash scripts/install_system_deps.sh $(BIN)/python

# geoplan's modules compiled to bytecode, as pip compiles a regular install (an editable one it
# does not): with PYTHONDONTWRITEBYTECODE set, as in many containers, Python would otherwise
# compile them again in every process, 0.3 s each (a large run starts two). Only changed files.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q geoplan

# The demo's maps and report go into maps/demo/ (its result folder: the report links the
# tables beside it).
demo: system-deps bytecode
	$(BIN)/geoplan demo --out $(DEMO_OUT) --overwrite
	$(BIN)/geoplan report $(DEMO_OUT) --overwrite

# The suite on TEST_WORKERS processes (pytest-xdist), a test file per worker at a time, so that
# a file's shared fixtures are built once: 7 min instead of 12 on two cores. TEST_WORKERS=0
# runs it in this process.
TEST_WORKERS ?= 2
test: system-deps bytecode
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP) bytecode
	$(BIN)/python -m pip install --quiet -e ".[test,app,bench]"
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) out maps/demo .pytest_cache .ruff_cache
