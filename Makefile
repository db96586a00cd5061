# Parley: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export PORT

.PHONY: run test install install-test chromium migrate check-deploy bench-clean screenshot

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-test.txt
	touch $@

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

test: install-test
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
