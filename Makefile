# The two commands a newcomer needs are `make run` and `make test`; both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint fmt bench chaos soak clean docs

$(STAMP): pyproject.toml examples/carwash/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		-e '.[dev]' -e examples/carwash
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m carwash.demo
	$(BIN)/conveyor serve

lint: $(STAMP)
	$(BIN)/ruff check src examples/carwash/src tests benchmarks
	$(BIN)/ruff format --check src examples/carwash/src tests benchmarks
	$(BIN)/mypy -p conveyor -p carwash
	$(BIN)/lint-imports

# The dashboard's browser tests drive Debian's Chromium through Playwright (which never
# downloads a browser of its own); installed once when missing, a no-op when present.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium

# Tests spend most of their time waiting on databases and subprocesses, so four pytest
# workers on two cores finish in about half the time of one.
test: lint docs $(CHROMIUM)
	$(BIN)/pytest -n 4

# The documentation site, built strictly: a broken link or a missing reference fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir .site

# The chaos suite with its long parameters (more jobs, kills, runs and generated requests);
# `make test` runs the same scenarios in their short form. About 5-10 min.
chaos: $(STAMP)
	CONVEYOR_CHAOS=long $(BIN)/pytest tests/chaos tests/crashtest tests/carwash/test_crashtest.py -n 2

# Workers and the API under a steady load for SOAK_SECONDS (default 3600), then the RSS
# slope of each process; fails when one grows. Not part of CI. SOAK_RATE, SOAK_WORKERS,
# SOAK_DATABASE_URL, SOAK_OUTPUT: see benchmarks/soak/__main__.py.
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

fmt: $(STAMP)
	$(BIN)/ruff format src examples/carwash/src tests benchmarks
	$(BIN)/ruff check --fix src examples/carwash/src tests benchmarks

# Conveyor beside PgQueuer, Procrastinate and Celery (Redis at 127.0.0.1:6379); 5-10 min.
# BENCH_ARGS=--quick for a short run, or e.g. BENCH_ARGS='-w W1 W2 -s conveyor-postgres pgqueuer';
# a partial run writes benchmarks/results/partial.json and leaves the published tables alone.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .conveyor .pytest_cache .mypy_cache .ruff_cache
