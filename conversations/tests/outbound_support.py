"""Helpers for the outbound tests: run a worker until the queue is idle, build conversations."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Message, SendAttempt
from conversations.outbound import OutboundWorker
from conversations.tests.factories import ContactFactory, ConversationFactory


def drain(max_seconds: float = 10.0, concurrency: int = 1) -> OutboundWorker:
    """Run one in-process worker until nothing is queued or in flight; fail the test if that
    takes longer than `max_seconds`. With the default concurrency of 1 it sends on this thread,
    on the test's own connection (so it sees the test's uncommitted rows)."""
    worker = OutboundWorker(worker_id="test-worker", interval=0.01, sweep_interval=0.05, stop_when_idle=True,
                            concurrency=concurrency)
    timed_out = threading.Event()

    def give_up():
        timed_out.set()
        worker.stop()

    timer = threading.Timer(max_seconds, give_up)
    timer.start()
    try:
        worker.run()
    finally:
        timer.cancel()
    assert not timed_out.is_set(), "the outbound queue did not drain in time"
    return worker


def open_conversation(channel="whatsapp", phone=None, **kwargs):
    contact = ContactFactory(**({"phone": phone} if phone else {}))
    kwargs.setdefault("last_inbound_at", timezone.now() - timedelta(minutes=5))
    return ConversationFactory(contact=contact, channel=channel, **kwargs)


def closed_conversation(channel="whatsapp", phone=None):
    contact = ContactFactory(**({"phone": phone} if phone else {}))
    return ConversationFactory(contact=contact, channel=channel, last_inbound_at=timezone.now() - timedelta(hours=25))


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def attempts(message: Message) -> list[SendAttempt]:
    return list(SendAttempt.objects.filter(message=message).order_by("number"))


def sends_for(fake_plivo, message: Message) -> list:
    """The requests the fake Plivo API received for `message` (matched by our ref in `url`)."""
    ref = f"ref={message.pk}"
    return [r for r in fake_plivo.sends() if r.body and str(r.body.get("url", "")).endswith(ref)]


@pytest.fixture
def fast_retries(settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0.01
    return settings
