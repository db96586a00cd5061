"""Database down: 503 (never 200 before the row is committed), no traceback; Plivo's retry then succeeds."""

import contextlib
import copy
import socket

import pytest
from django.db import connection

from conversations.models import Message
from webhooks.tests.conftest import MESSAGE_PATH, load_fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens here once the socket is closed


@contextlib.contextmanager
def database_unreachable():
    """Point the real connection at a database that is not there, then put it back."""
    original = copy.deepcopy(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
        connection.settings_dict["PORT"] = str(_closed_port())
        connection.settings_dict["OPTIONS"]["pool"] = {**connection.settings_dict["OPTIONS"]["pool"], "timeout": 1.0, "min_size": 0}
    else:
        connection.settings_dict["NAME"] = "/nonexistent-parley-dir/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        if connection.vendor == "postgresql":
            connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


def test_database_down_answers_503_and_plivos_retry_then_stores_the_message(webhooks, caplog):
    data = load_fixture("whatsapp_text")
    with database_unreachable():
        response = webhooks.post(MESSAGE_PATH, data["params"])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert b"Traceback" not in response.content and b"File \"" not in response.content
    assert "database unavailable" in caplog.text

    retry = webhooks.post(MESSAGE_PATH, data["params"])
    assert retry.status_code == 200
    assert Message.objects.get().plivo_message_uuid == data["params"]["MessageUUID"]


def test_status_report_during_an_outage_is_retried_too(webhooks):
    with database_unreachable():
        assert webhooks.status().status_code == 503
    assert webhooks.status().status_code == 200
