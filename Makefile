# Two commands matter: `make demo` and `make test`. Both set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BENCH_OUT ?= bench-results.json
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench clean

setup:
	@./scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/capture-station demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

test: setup
	WANT_BROWSER=1 ./scripts/bootstrap.sh
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	BENCH_OUT=$(BENCH_OUT) $(PY) -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench-results.json
