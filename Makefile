# `make demo` runs the guided tour; `make test` runs lint, types, the strict docs build and the tests.
# Both create .venv and install everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test docs stress lint typecheck pytest aiosqlite-suite sqlalchemy-suite clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m aiolite tour

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/basedpyright --project pyproject.toml --pythonpath $(PY)

# The documentation site (mkdocs.yml) into build/site. --strict: a broken link, anchor,
# included file or API reference fails the build. It needs no network.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict  # (not --quiet: it hides the warnings --strict counts)

# One pytest worker per core (pytest-xdist): the suite is mostly waiting on worker threads and
# event loops, and two processes halve its wall time on the 2-core CI machines.
pytest: $(STAMP)
	$(PY) -m pytest -n auto

# aiosqlite's own tests (shipped inside the aiosqlite package) against aiolite.aiosqlite
aiosqlite-suite: $(STAMP)
	$(PY) tests/aiosqlite_suite/run.py

# SQLAlchemy's dialect compliance suite on sqlite+aiosqlite (the reference), sqlite+aiolite and
# SQLAlchemy's aiosqlite dialect on aiolite.aiosqlite: counts, wall time, every differing outcome
sqlalchemy-suite: $(STAMP)
	$(PY) tests/sqlalchemy_suite/run.py

test: lint typecheck docs pytest aiosqlite-suite

# The reliability scenarios at full size (make test runs them reduced); figures in build/stress-report.md
stress: $(STAMP)
	AIOLITE_STRESS=full $(PY) -m pytest tests/stress -q --timeout=1800

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build/site
