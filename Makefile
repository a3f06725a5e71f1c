# Two commands matter: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint lock bench bench-campaigns faults mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/survey-gateway run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The lock file deployments install from: every runtime package pinned, with its hashes, for
# Python 3.11 and newer on any platform. Run after changing the dependencies in pyproject.toml,
# or to take the newest releases their ranges allow; commit the result.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[lock]'
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--upgrade --quiet --custom-compile-command 'make lock' -o requirements.lock

# One test process per core (at most four): each has its own embedded Redis and database.
test: lint
	$(BIN)/pytest -n auto --maxprocesses=4

# The speed figures against their goals, one table (about 10 minutes; needs wrk: apt install
# wrk). ARGS="--quick" checks the bench itself in about two minutes.
bench: $(STAMP)
	$(BIN)/python -m tests.bench $(ARGS)

# A campaign of 100,000 numbers: the import, then the fan-out through real workers killed
# midway (under an hour on 2 cores). Add ARGS="--database-url postgresql://..." for PostgreSQL.
bench-campaigns: $(STAMP)
	$(BIN)/python -m tests.bench_campaigns $(ARGS)
	$(BIN)/python -m tests.bench_fan_out $(ARGS)

# The production topology (redis-server with AOF, a private PostgreSQL, gunicorn, two kept
# workers, a local AT) through worker, Redis, PostgreSQL and AT faults; one results table,
# non-zero exit when a check fails (under 10 minutes). Needs redis-server and PostgreSQL.
faults: $(STAMP)
	$(BIN)/python -m tests.faults $(ARGS)

# Mutation testing of handlers/, workers/ and the session store (mutmut): slow, not in CI.
# `$(BIN)/mutmut results` lists the mutants that survived; `mutmut show NAME` shows one.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	$(BIN)/mutmut run
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json

clean:
	rm -rf $(VENV) var mutants .pytest_cache .mypy_cache .ruff_cache
