# Two commands do everything on a fresh machine: `make run` and `make test`.
# Both go through `make install`, which creates .venv and installs the pinned set.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
# Where `make run` listens: empty is 127.0.0.1, this machine only; `make run ADDRESS=0.0.0.0` for every interface.
ADDRESS ?=
# Keep Python's compiled bytecode (__pycache__, ignored by git) even where the environment turns it
# off: otherwise every process the app, the grader and the suite start (app servers, grading
# workers, test collection) compiles the project's modules again. Collecting the tests took 20 s
# without it and 9 s with it.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install system-deps run test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the sandbox and the browser tests need; installed only when missing.
system-deps:
	@bash .ci/system-deps

run: install
	mkdir -p var
	$(BIN)/theater app --port $(PORT) $(if $(ADDRESS),--address $(ADDRESS))

test: install system-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=15  # the slowest tests: the suite should stay under 15 minutes on 2 cores

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

bench: install
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/grade.py
	$(BIN)/python benchmarks/app.py
	$(BIN)/python benchmarks/guessing.py
	$(BIN)/python benchmarks/detect_reference.py

clean:
	rm -rf $(VENV) var .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
