# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   installs, migrates the SQLite database, loads the demo, serves on 127.0.0.1:8000
#               (another port: make demo PORT=8001)
#   make test   installs and runs the test suite (SQLite; set DATABASE_URL for PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ENV := DEBUG=1
PORT ?= 8000

.PHONY: install demo serve test bench e2e api-fuzz screenshots lint format messages clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Defensores needs Python 3.11 or newer: run make PYTHON=python3.11 …"; exit 1; }
	@echo "==> Creating $(VENV) and installing dependencies (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	@touch $@

demo: install
	@echo "==> Migrating the SQLite database (db.sqlite3)"
	$(DEMO_ENV) $(BIN)/python manage.py migrate --no-input
	@echo "==> Loading the demo data"
	$(DEMO_ENV) $(BIN)/python manage.py load_demo
	@$(MAKE) --no-print-directory serve

# The server, and beside it a worker for background work (imports, e-mails) and what cron
# runs in production (notify_due hourly; webhooks_due, archive_due every minute): Ctrl-C
# stops them all.
serve: install
	@echo "==> DEMO MODE (DEBUG=1): never use these settings or accounts with real data."
	@echo "==> Open http://127.0.0.1:$(PORT)/admin/ and log in with an account listed above."
	@trap 'kill $$worker $$timer 2>/dev/null; wait $$worker $$timer 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(BIN)/python manage.py db_worker --no-startup-delay & worker=$$!; \
	( n=0; while true; do \
	    [ $$((n % 60)) -eq 0 ] && $(DEMO_ENV) $(BIN)/python manage.py notify_due >/dev/null; \
	    $(DEMO_ENV) $(BIN)/python manage.py webhooks_due >/dev/null; \
	    $(DEMO_ENV) $(BIN)/python manage.py archive_due >/dev/null; n=$$((n + 1)); sleep 60; \
	  done ) & timer=$$!; \
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Browser tests: Debian's Chromium (apt-get install -y chromium), never a downloaded browser.
e2e: install
	@command -v chromium >/dev/null || { echo "e2e needs Chromium: apt-get install -y chromium"; exit 1; }
	cd tests/e2e && npm install --no-audit --no-fund --silent
	E2E=1 $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

# Benchmarks against PostgreSQL's own lower bound (docs/benchmarks.md). Needs PostgreSQL:
# BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/defensores_bench, dropped
# and recreated); BENCH_N incidents (default 1,000,000). Writes bench-results.json and .md.
bench: install
	$(BIN)/python scripts/bench.py

# Fuzz the API against its OpenAPI schema (schemathesis, every check, >= 1000 requests).
api-fuzz: install
	scripts/api_fuzz.sh

# Refresh the README's screenshots (docs/img/) from the e2e flows.
screenshots:
	$(MAKE) e2e E2E_SCREENSHOTS=docs/img

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r accounts api cases config core demo home legal organizations reports \
		-x '*/migrations/*' \
		--severity-level medium

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh the Spanish catalogue after adding strings (needs GNU gettext), then translate
# the new entries in locale/es/LC_MESSAGES/django.po and run `make messages` again.
messages: install
	$(BIN)/python manage.py makemessages -l es --ignore=.venv --ignore=tests --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
