"""The simulator exists only in development: never mounted, never switched on without DEBUG."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from simulator.tests.conftest import urls_with_debug

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_urls(settings):
    with urls_with_debug(settings, False):
        yield


def test_simulator_is_not_reachable_with_debug_off(production_urls, settings, db):
    client = Client()
    credentials = base64.b64encode(f"{settings.PLIVO_AUTH_ID}:{settings.PLIVO_AUTH_TOKEN}".encode()).decode()

    assert client.get("/simulator/").status_code == 404
    assert client.post("/simulator/phone/send/", data=json.dumps({"phone": "+14155550123", "channel": "sms", "text": "x"}),
                       content_type="application/json").status_code == 404
    assert client.get("/simulator/phone/thread/", {"phone": "+14155550123"}).status_code == 404
    api = client.post(f"/simulator/plivo/v1/Account/{settings.PLIVO_AUTH_ID}/Message/",
                      data=json.dumps({"src": "+14155550100", "dst": "+14155550123", "text": "x"}),
                      content_type="application/json", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert api.status_code == 404


def test_simulator_is_reachable_with_debug_on(simulator_urls, db):
    assert Client().get("/simulator/").status_code == 200


def run_settings(env: dict, code: str) -> subprocess.CompletedProcess:
    """Load Parley's settings in a fresh interpreter with exactly these variables."""
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("PLIVO_", "DEBUG", "PUBLIC_BASE_URL", "SECRET_KEY", "ALLOWED_HOSTS"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "messaging_site.settings", **env})
    program = "import django; django.setup(); from django.conf import settings; " + code
    return subprocess.run([sys.executable, "-c", program], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60)


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "parley.example.com",
              "PUBLIC_BASE_URL": "https://parley.example.com"}


def test_settings_refuse_the_simulator_without_debug():
    result = run_settings({**PRODUCTION, "PLIVO_SIMULATOR": "true"}, "print('started')")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PLIVO_SIMULATOR can only be switched on together with DEBUG" in result.stderr
    assert "started" not in result.stdout


def test_production_settings_leave_the_simulator_out():
    result = run_settings(
        {**PRODUCTION, "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "t"},
        "from django.urls import resolve, Resolver404\n"
        "try:\n    resolve('/simulator/'); print('mounted')\nexcept Resolver404:\n    print('absent')\n"
        "print(settings.PLIVO_SIMULATOR, 'simulator' in settings.INSTALLED_APPS, settings.PLIVO_API_BASE_URL)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["absent", "False", "False", "https://api.plivo.com"]


def test_a_real_plivo_account_switches_the_simulator_off_even_in_debug():
    result = run_settings(
        {"DEBUG": "true", "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "real-token"},
        "print(settings.PLIVO_SIMULATOR, settings.PLIVO_API_BASE_URL)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "https://api.plivo.com"]


def test_debug_without_an_account_runs_the_simulator_against_itself():
    result = run_settings(
        {"DEBUG": "true", "PORT": "8765"},
        "print(settings.PLIVO_SIMULATOR, settings.PLIVO_AUTH_ID, settings.PLIVO_API_BASE_URL, settings.PUBLIC_BASE_URL)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True", "MAPARLEYSIMULATOR000", "http://127.0.0.1:8765/simulator/plivo", "http://127.0.0.1:8765",
    ]
