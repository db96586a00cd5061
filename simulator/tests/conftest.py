"""Fixtures for the simulator's tests: the process-wide fake Plivo account, reset, with short
report delays, and the app served on a real socket so the simulator can call it."""

import contextlib
import importlib
import sys
import threading
import time
from unittest import mock

import plivo
import pytest
import requests
from django.urls import clear_url_caches

from simulator import services
from webhooks.models import WebhookReceipt
from webhooks.worker import WebhookWorker


def reload_urlconf(settings):
    """messaging_site/urls.py decides at import whether to mount the simulator (DEBUG only)."""
    clear_url_caches()
    module = sys.modules.get(settings.ROOT_URLCONF)
    if module is None:
        importlib.import_module(settings.ROOT_URLCONF)
    else:
        importlib.reload(module)


@contextlib.contextmanager
def urls_with_debug(settings, debug: bool):
    """The urlconf as it is built with DEBUG on or off, restored afterwards."""
    original = settings.DEBUG
    settings.DEBUG = debug
    reload_urlconf(settings)
    yield
    settings.DEBUG = original
    reload_urlconf(settings)


@pytest.fixture
def simulator_urls(settings):
    """pytest-django runs tests with DEBUG off; the simulator exists only with DEBUG on."""
    with urls_with_debug(settings, True):
        yield


@pytest.fixture
def sim_api(settings, simulator_urls):
    """The simulator's own fake Plivo account (the one /simulator/plivo/ serves), emptied."""
    api = services.simulator_api()
    saved_delays = api.report_delays
    api.auth_id, api.auth_token = settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN
    api.reset()
    api.report_delays = (0.05, 0.1, 0.15, 0.2)
    services.customer_log.clear()
    yield api
    # Let a report already on its way finish before the test database is flushed: a webhook
    # transaction still open during the flush's TRUNCATE deadlocks on PostgreSQL.
    api.reporter.cancel_all()
    deadline = time.monotonic() + 10
    while api.reporter.pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    api.reset()
    api.report_delays = saved_delays
    services.customer_log.clear()


@pytest.fixture
def live_app(live_server, settings, sim_api):
    """Parley on a real socket, with its public URL and Plivo API base pointing at itself, and
    a webhook worker applying what it receives, exactly as `make run` wires them."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.PLIVO_API_BASE_URL = live_server.url + "/simulator/plivo"
    worker = WebhookWorker(interval=0.05)
    thread = threading.Thread(target=worker.run, name="test-webhook-worker", daemon=True)
    thread.start()
    yield live_server
    # Apply what is still on its way before the test database is flushed.
    while WebhookReceipt.objects.pending().exists() and thread.is_alive():
        time.sleep(0.02)
    worker.stop()
    thread.join(10)


@pytest.fixture
def sdk(live_app, settings):
    """The real plivo SDK, talking to the fake API mounted in Django."""
    with mock.patch("plivo.rest.client.PLIVO_API_BASE_URI", live_app.url + "/simulator/plivo/v1/Account"):
        yield plivo.RestClient(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN, timeout=5)


class Phone:
    """The customer phone page's JSON endpoints, used as the page's script uses them."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.get(f"{base_url}/simulator/", timeout=5).raise_for_status()
        self.csrf = self.session.cookies["csrftoken"]

    def send(self, **body):
        return self.session.post(
            f"{self.base_url}/simulator/phone/send/", json=body, timeout=15,
            headers={"X-CSRFToken": self.csrf, "Referer": f"{self.base_url}/simulator/"},
        )

    def thread(self, phone, channel="whatsapp", **params):
        response = self.session.get(f"{self.base_url}/simulator/phone/thread/", timeout=30,
                                    params={"phone": phone, "channel": channel, **params})
        response.raise_for_status()
        return response.json()


@pytest.fixture
def phone(live_app):
    return Phone(live_app.url)
