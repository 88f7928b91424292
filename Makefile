# Two commands matter: `make demo` and `make test`. Both set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BENCH_OUT ?= bench-results.json
SOAK_MINUTES ?= 20
SOAK_OUT ?= soak-results.json
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench soak clean

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

# The fault-injection run (tests/soak): real processes, SIGKILLs, outages, full disks (as
# root), clock jumps; figures in $(SOAK_OUT), see docs/reliability.md. `make test` runs the
# short version (every fault once).
soak: setup
	SOAK_MINUTES=$(SOAK_MINUTES) SOAK_OUT=$(SOAK_OUT) $(PY) -m pytest -m soak -s tests/soak

bench: setup
	BENCH_OUT=$(BENCH_OUT) $(PY) -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench-results.json soak-results.json
