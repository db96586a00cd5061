# Parley: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export PORT

.PHONY: run test install install-test chromium migrate check-deploy bench-clean lock upgrade-deps check-lock screenshot

# Installs take exactly the lock files: every package pinned and hash-checked, no dependency
# resolved here, wheels only (nothing is built). Edit requirements*.txt, then `make lock`.
PIP_INSTALL := $(PY) -m pip install --quiet --require-hashes --no-deps --only-binary :all:
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The pip that installs the locks is pinned too; `sync` then drops what no lock holds (the
# setuptools a new venv brings, a package a lock upgrade removed).
$(VENV)/.installed: requirements-pip.lock requirements.lock | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements-pip.lock
	$(PIP_INSTALL) -r requirements.lock
	$(PY) tools/lockfile.py sync requirements-pip.lock requirements.lock
	touch $@

$(VENV)/.installed-test: requirements-test.lock $(VENV)/.installed
	$(PIP_INSTALL) -r requirements-test.lock
	$(PY) tools/lockfile.py sync requirements-pip.lock requirements-test.lock
	touch $@

# `make lock` after editing requirements*.txt: resolves again, keeping every other locked
# version it can. `make upgrade-deps`: also moves every transitive package to the newest version
# the top-level pins allow. Either way, review the diff and run `make test` before committing.
# The test lock is constrained to the runtime lock, so tests run what production installs.
lock: $(VENV)/.installed-test
	$(UV_COMPILE) $(LOCK_ARGS) requirements-pip.txt -o requirements-pip.lock
	$(UV_COMPILE) $(LOCK_ARGS) requirements.txt -o requirements.lock
	$(UV_COMPILE) $(LOCK_ARGS) requirements-test.txt --constraint requirements.lock -o requirements-test.lock

upgrade-deps:
	$(MAKE) lock LOCK_ARGS=--upgrade

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test chromium

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y chromium >/dev/null 2>&1 || { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y chromium >/dev/null; }; \
	}

run: install
	@DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	@DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo
	@DEBUG=$${DEBUG:-true} $(PY) manage.py parley_welcome --host $(HOST) --port $(PORT) || true
	DEBUG=$${DEBUG:-true} OUTBOUND_WORKER_EMBEDDED=$${OUTBOUND_WORKER_EMBEDDED:-true} \
		WEBHOOK_WORKER_EMBEDDED=$${WEBHOOK_WORKER_EMBEDDED:-true} \
		$(VENV)/bin/daphne -b $(HOST) -p $(PORT) messaging_site.asgi:application

# Fails when the virtualenv holds anything the locks do not (a hand-made `pip install`).
check-lock: $(VENV)/.installed-test
	$(PY) tools/lockfile.py check requirements-pip.lock requirements-test.lock

test: install-test check-lock
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Redraws the README's picture, docs/inbox.png: a busy inbox in Debian's Chromium.
screenshot: install-test
	$(PY) docs/screenshot.py

# What production must pass: `manage.py check --deploy` with production-like values.
check-deploy: install
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=parley.example.com PUBLIC_BASE_URL=https://parley.example.com \
	PLIVO_AUTH_ID=MAXXXXXXXXXXXXXXXXXX PLIVO_AUTH_TOKEN=token PLIVO_WHATSAPP_NUMBER=+14155550100 \
	$(PY) manage.py check --deploy --fail-level WARNING
