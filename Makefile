# Một Cửa — the two commands a newcomer needs are `make run` and `make test`.
# Everything else is here for developers and operators; `make help` lists it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The suite runs in one pytest-xdist worker per core, at most 4 (each has its own test database,
# cache, Celery broker and Redis database: tests/settings.py); whole files stay in one worker.
# `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
AXE    := var/vendor/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help install system-deps run test test-fast test-postgres lint format migrate seed messages bench bench-quick bench-smoke bench-scaleout clean backup restore

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { sh scripts/system-deps.sh venv && $(PYTHON) -m venv $(VENV); }
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the Python packages
	@sh scripts/system-deps.sh test

system-deps: ## Install missing Debian packages (fonts, pango, chromium, poppler, zbar)
	@sh scripts/system-deps.sh test

run: $(STAMP) ## Migrate the embedded SQLite database, load demo data, start web + worker + beat
	@sh scripts/system-deps.sh run
	@sh scripts/run-embedded.sh $(HOST) $(PORT)

$(AXE): scripts/fetch-axe.py
	$(PYTHON) scripts/fetch-axe.py

test: install $(AXE) ## Run the whole test suite (SQLite unless DATABASE_URL is set)
	$(PYTEST)

test-fast: install ## The suite without browser and slow tests
	$(PYTEST) -m "not browser and not slow"

test-postgres: install $(AXE) ## The whole suite against local PostgreSQL + Redis (see .ci/run)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/motcua} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PYTEST)

lint: install ## ruff check + format check + missing migrations + import contracts (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-cache

format: install ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: install ## Apply migrations
	DEBUG=1 $(PY) manage.py migrate --noinput

seed: migrate ## Load the demo data (idempotent)
	DEBUG=1 $(PY) manage.py seed_demo

messages: install ## Update and compile the translation catalogues
	DEBUG=1 $(PY) manage.py makemessages -l vi -l en --no-location -i ".venv/*" -i "var/*"
	DEBUG=1 $(PY) manage.py compilemessages -i ".venv" -i "var"

backup: install ## Dump the database and media files to var/backups/<timestamp>/ (see docs/security.md)
	sh scripts/backup.sh

restore: install ## Restore a backup into an empty database: make restore DIR=var/backups/<timestamp> [FORCE=1]
	@test -n "$(DIR)" || { echo "usage: make restore DIR=var/backups/<timestamp> [FORCE=1]"; exit 2; }
	sh scripts/restore.sh $(if $(FORCE),--force) "$(DIR)"

bench: install ## Benchmark: 1,000,000 dossiers on PostgreSQL + Redis (docs/performance.md)
	@bash scripts/ci-services.sh
	@bash scripts/bench-tools.sh
	$(PY) bench/run.py

bench-quick: install ## Benchmark with 100,000 dossiers
	@bash scripts/ci-services.sh
	@bash scripts/bench-tools.sh
	$(PY) bench/run.py --quick

bench-smoke: install ## Tiny benchmark run (300 dossiers): checks the harness works
	@bash scripts/ci-services.sh
	$(PY) bench/run.py --smoke --drop

bench-scaleout: install ## Scale-out drill: PgBouncer, a replica, 2 app instances behind HAProxy, wrk (docs/scaling.md)
	@bash scripts/ci-services.sh
	bash scripts/scaleout.sh $(SCALEOUT_ARGS)

clean: ## Remove the venv, the embedded database and caches
	rm -rf $(VENV) var .pytest_cache .ruff_cache staticfiles
