"""Database down: 503 (never 200 before the row is committed), no traceback; Plivo's retry then succeeds."""

import contextlib
import copy

import pytest
from django.db import connection

from conversations.models import Message
from conversations.tests.outage import database_unreachable
from webhooks.tests.conftest import MESSAGE_PATH, load_fixture

pytestmark = pytest.mark.django_db(transaction=True)


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


@contextlib.contextmanager
def lock_timeout(milliseconds: int):
    """New pooled connections wait at most `milliseconds` for a row lock (as configured by
    DATABASE_LOCK_TIMEOUT_MS, but short enough for a test)."""
    original = copy.deepcopy(connection.settings_dict)
    connection.close()
    connection.close_pool()
    connection.settings_dict["OPTIONS"]["options"] = f"-c lock_timeout={milliseconds}"
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@pytest.mark.postgres
def test_configured_lock_timeout_reaches_every_pooled_connection():
    from django.conf import settings

    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
        milliseconds = cursor.fetchone()[0]
    assert milliseconds != "0"  # PostgreSQL's default: wait forever
    assert settings.DATABASES["default"]["OPTIONS"]["options"] == f"-c lock_timeout={milliseconds}"


@pytest.mark.postgres
def test_a_row_held_by_a_stuck_transaction_delays_neither_the_answer_nor_the_message_for_long(webhooks):
    import time

    import psycopg

    from conversations.models import Conversation
    from webhooks.models import WebhookReceipt
    from webhooks.tests.support import receipts_apply_all

    uuid = "9a1b2c3d-0000-4000-8000-00000000beef"
    assert webhooks.inbound("sms").status_code == 200  # the customer's conversation exists
    conversation = Conversation.objects.get()
    params = connection.get_connection_params()
    stuck = psycopg.connect(**{key: params[key] for key in ("dbname", "user", "host", "port") if key in params})
    try:
        stuck.execute("SELECT id FROM conversations_conversation WHERE id = %s FOR UPDATE", [conversation.pk])
        with lock_timeout(300):
            started = time.monotonic()
            response = webhooks.inbound("sms", MessageUUID=uuid, apply=False)
            answered = time.monotonic() - started
            assert response.status_code == 200 and answered < 1  # Plivo's callback is committed
            started = time.monotonic()
            receipts_apply_all()  # the worker meets the lock, gives up after lock_timeout
            waited = time.monotonic() - started
        assert waited < 3
        assert not Message.objects.filter(plivo_message_uuid=uuid).exists()
        receipt = WebhookReceipt.objects.get(dedupe_key=uuid)
        assert receipt.applied_at is None and receipt.next_attempt_at is not None
    finally:
        stuck.rollback()
        stuck.close()
    WebhookReceipt.objects.filter(dedupe_key=uuid).update(next_attempt_at=None)  # its short wait is over
    assert receipts_apply_all() == 1
    assert webhooks.inbound("sms", MessageUUID=uuid).status_code == 200  # Plivo's retry as well
    assert Message.objects.filter(plivo_message_uuid=uuid).count() == 1
    assert Conversation.objects.get().unread_count == 2
