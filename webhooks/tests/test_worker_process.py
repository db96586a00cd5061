"""Real `manage.py run_webhook_worker` processes, as production runs them beside the web server."""

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from conversations.models import Conversation, Message
from conversations.tests.live_server import database_url_for_current_connection
from webhooks.models import WebhookReceipt
from webhooks.services import RECEIPT_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)


def worker_process(*args):
    env = {**os.environ, "DATABASE_URL": database_url_for_current_connection(), "WEBHOOK_WORKER_EMBEDDED": "false"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_webhook_worker", *args], cwd=settings.BASE_DIR, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def worker_listening() -> bool:
    """A worker process is started once its LISTEN connection waits (a fixed sleep was too short on a busy machine)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            [f"LISTEN {RECEIPT_CHANNEL}"],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
def test_a_worker_process_applies_a_callback_within_moments_and_stops_cleanly_on_sigterm(webhooks):
    process = worker_process("--interval", "30")  # only NOTIFY from the web process can wake it in time
    try:
        assert wait_for(worker_listening, timeout=30), "the worker never began to LISTEN"
        assert webhooks.inbound("sms", apply=False).status_code == 200
        started = time.monotonic()
        assert wait_for(Message.objects.exists, timeout=5), process.stdout.read() if process.poll() is not None else ""
        assert time.monotonic() - started < 2
    finally:
        code = stop(process)
    output = process.stdout.read()
    assert code == 0, output
    assert "finishing the current batch" in output


@pytest.mark.postgres
def test_a_worker_killed_mid_batch_loses_nothing_and_the_next_one_applies_everything_once(webhooks):
    assert webhooks.inbound("sms").status_code == 200  # a customer whose conversation exists
    held = Conversation.objects.get()
    newcomer_uuid, held_uuid = "5e0a0000-0000-4000-8000-000000000001", "5e0a0000-0000-4000-8000-000000000002"
    webhooks.inbound("sms", From="14155550177", MessageUUID=newcomer_uuid, apply=False)
    webhooks.inbound("sms", MessageUUID=held_uuid, apply=False)  # its conversation row is held below

    params = connection.get_connection_params()
    blocker = psycopg.connect(**{key: params[key] for key in ("dbname", "user", "host", "port") if key in params})
    blocker.execute("SELECT id FROM conversations_conversation WHERE id = %s FOR UPDATE", [held.pk])
    process = worker_process()
    try:
        # The worker applied the newcomer's message, then waits for the held row: kill it there.
        def waiting_on_the_lock():
            with connection.cursor() as cursor:  # not the blocker's: its transaction sees one snapshot
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return cursor.fetchone()[0] > 0

        waited = wait_for(waiting_on_the_lock, timeout=10)
    finally:
        stop(process, signal.SIGKILL)
        blocker.rollback()
        blocker.close()
    assert waited, process.stdout.read()

    assert not Message.objects.filter(plivo_message_uuid__in=[newcomer_uuid, held_uuid]).exists()  # rolled back
    assert WebhookReceipt.objects.pending().count() == 2

    finisher = worker_process("--until-idle")
    assert finisher.wait(timeout=30) == 0, finisher.stdout.read()
    assert Message.objects.filter(plivo_message_uuid=newcomer_uuid).count() == 1
    assert Message.objects.filter(plivo_message_uuid=held_uuid).count() == 1
    assert Conversation.objects.get(pk=held.pk).unread_count == 2
    assert not WebhookReceipt.objects.pending().exists()
