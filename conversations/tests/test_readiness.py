"""/healthz/ is liveness (no I/O); /readyz/ says whether this deployment can do its job."""

import datetime as dt
import os

import pytest
import time_machine
from django.utils import timezone

from conversations.tests.outage import closed_port, database_unreachable
from webhooks.models import WebhookReceipt

pytestmark = pytest.mark.django_db(transaction=True)


def receipt(**kwargs) -> WebhookReceipt:
    return WebhookReceipt.objects.create(kind="message", dedupe_key=f"uuid-{WebhookReceipt.objects.count()}", params={}, **kwargs)


def test_ready_with_figures(client, settings):
    settings.REDIS_URL = ""
    receipt()
    response = client.get("/readyz/")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["webhook_receipts"]["waiting"] == 1
    assert "redis" not in body["checks"]


def test_database_down_is_not_ready_but_still_alive(client, settings):
    settings.REDIS_URL = ""
    with database_unreachable():
        ready = client.get("/readyz/")
        alive = client.get("/healthz/")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert b"Traceback" not in ready.content
    assert alive.status_code == 200


def test_redis_down_is_not_ready(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis")
def test_redis_answering_is_ready(client, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["ok"] is True


def test_a_receipt_waiting_past_the_threshold_means_no_worker_is_applying(client, settings):
    settings.REDIS_URL = ""
    settings.READYZ_MAX_RECEIPT_AGE_SECONDS = 120
    with time_machine.travel(timezone.now() - dt.timedelta(seconds=121), tick=False):
        receipt()
    response = client.get("/readyz/")
    assert response.status_code == 503
    figures = response.json()["checks"]["webhook_receipts"]
    assert figures["ok"] is False and figures["oldest_waiting_seconds"] >= 121


def test_applied_and_backing_off_receipts_do_not_count_as_waiting(client, settings):
    settings.REDIS_URL = ""
    with time_machine.travel(timezone.now() - dt.timedelta(hours=1), tick=False):
        receipt(applied_at=timezone.now())
        receipt(attempts=2, last_error="boom", next_attempt_at=timezone.now() + dt.timedelta(hours=2))
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json()["checks"]["webhook_receipts"]["failing"] == 1
