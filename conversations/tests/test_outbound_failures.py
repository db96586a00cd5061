"""What happens when Plivo fails: retried, failed at once, or left unconfirmed (never resent blindly)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from conversations.models import InboxEvent, MessageStatus, OutboundJob, SendAttempt
from conversations.outbound import (
    message_retry,
    message_send,
    outbound_job_claim,
    outbound_job_process,
    outbound_sweep,
    retry_delay_seconds,
)
from conversations.services.contacts import contact_opt_out
from conversations.tests.factories import MessageFactory
from conversations.tests.outbound_support import (  # noqa: F401 (fixture)
    attempts,
    drain,
    fast_retries,
    open_conversation,
    reload,
    sends_for,
)
from conversations.tests.live_server import free_port
from conversations.tests.support import broadcast, wait_for
from messaging_site.errors import ApplicationError
from webhooks.tests.support import receipts_apply_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    return open_conversation(phone="+14155550123")


def queue_text(conversation, text="Your order has shipped"):
    message, _ = message_send(conversation=conversation, kind="text", text=text)
    return message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_error_is_retried_then_sent_once(fake_plivo, fast_retries, conversation, status):
    fake_plivo.fail_next(status)
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert [r.status for r in sends_for(fake_plivo, message)] == [status, 202]
    assert len(fake_plivo.accepted) == 1
    assert message.status == MessageStatus.SENDING
    assert message.plivo_message_uuid == fake_plivo.accepted[0].uuid
    assert message.error_message == ""  # the retry note is gone once it went out
    assert [(a.number, a.outcome, a.http_status) for a in attempts(message)] == [
        (1, "transient_error", status), (2, "accepted", 202)]


def test_agent_sees_the_retry_while_it_waits(fake_plivo, conversation):
    fake_plivo.fail_next(503)
    message = queue_text(conversation)
    before = timezone.now()
    assert outbound_job_process(message_id=message.pk) == "transient"
    message = reload(message)
    job = message.outbound_job
    assert message.status == MessageStatus.QUEUED
    assert "Plivo was unavailable (HTTP 503); retrying in" in message.error_message
    assert "attempt 2 of 5" in message.error_message
    # First backoff: base 20 s with jitter, between 20 and 40 s.
    assert before + timedelta(seconds=20) <= job.next_attempt_at <= timezone.now() + timedelta(seconds=40)
    assert (job.state, job.lease_expires_at) == ("pending", None)
    assert message.next_attempt_at == job.next_attempt_at and message.error_code == "plivo_unavailable"
    updated = InboxEvent.objects.filter(type="message.updated").last()
    assert updated.data["message"]["error_message"] == message.error_message
    # What the inbox shows: "Plivo busy, retrying in 30 s".
    assert updated.data["message"]["retry_reason"] == "Plivo busy"
    assert updated.data["message"]["next_attempt_at"] == job.next_attempt_at.isoformat().replace("+00:00", "Z")
    # Not due yet: a worker does not pick it up early.
    assert outbound_job_process(message_id=message.pk) is None
    assert len(fake_plivo.sends()) == 1


def test_backoff_schedule_spans_five_to_ten_minutes(settings):
    settings.OUTBOUND_RETRY_BASE_SECONDS = 20
    for _ in range(50):
        total = sum(retry_delay_seconds(n) for n in range(1, 5))  # the waits between 5 attempts
        assert 300 <= total < 600
    assert retry_delay_seconds(1, retry_after=120) >= 120  # Plivo's Retry-After is honoured


def test_transient_errors_give_up_after_max_attempts(fake_plivo, fast_retries, conversation):
    fake_plivo.fail_next(503, count=10)
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert len(sends_for(fake_plivo, message)) == 5
    assert not fake_plivo.accepted
    assert message.status == MessageStatus.FAILED
    assert message.error_message == (
        "Not sent: Plivo was unavailable (HTTP 503) on all 5 attempts. Retry it once Plivo is reachable again.")
    assert message.outbound_job.state == "failed"


def test_plivo_400_fails_at_once_with_its_reason(fake_plivo, fast_retries, conversation):
    fake_plivo.fail_next(400, error="dst is not a valid WhatsApp user")
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert len(sends_for(fake_plivo, message)) == 1
    assert message.status == MessageStatus.FAILED and message.failed_at is not None
    assert message.error_code == "http_400"
    assert message.error_message == "Plivo refused the message as invalid: dst is not a valid WhatsApp user."
    [attempt] = attempts(message)
    assert (attempt.outcome, attempt.http_status) == ("permanent_error", 400)


def test_wrong_credentials_fail_at_once_without_showing_the_token(fake_plivo, fast_retries, settings, conversation):
    settings.PLIVO_AUTH_TOKEN = "not-the-right-token-s3cr3t"
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert [r.status for r in fake_plivo.sends()] == [401]
    assert message.status == MessageStatus.FAILED
    assert "PLIVO_AUTH_TOKEN" in message.error_message
    detail = " ".join(a.detail for a in attempts(message))
    assert "s3cr3t" not in message.error_message + detail


@pytest.mark.parametrize("status,words", [(403, "geo permissions"), (404, "did not find the account")])
def test_other_refusals_fail_at_once(fake_plivo, fast_retries, conversation, status, words):
    fake_plivo.fail_next(status)
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert len(fake_plivo.sends()) == 1
    assert message.status == MessageStatus.FAILED and words in message.error_message


def test_connection_refused_is_retried_and_sent_when_plivo_is_back(fake_plivo, settings, conversation):
    reachable = settings.PLIVO_API_BASE_URL
    settings.PLIVO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    message = queue_text(conversation)
    assert outbound_job_process(message_id=message.pk) == "transient"
    [attempt] = attempts(message)
    assert attempt.outcome == "transient_error" and attempt.http_status is None
    assert "could not connect to Plivo" in reload(message).error_message
    settings.PLIVO_API_BASE_URL = reachable
    OutboundJob.objects.filter(message=message).update(next_attempt_at=timezone.now())
    assert outbound_job_process(message_id=message.pk) == "accepted"
    assert len(fake_plivo.accepted) == 1 and reload(message).status == MessageStatus.SENDING


def test_timeout_leaves_message_unconfirmed_never_resent_then_failed(fake_plivo, fast_retries, settings, conversation):
    settings.PLIVO_API_TIMEOUT_SECONDS = 0.3
    fake_plivo.fail_next(0, delay=0.8, accept=True)  # Plivo accepts it, but answers too late
    message = queue_text(conversation)
    drain()
    message = reload(message)
    assert message.status == MessageStatus.QUEUED
    assert message.unconfirmed_since is not None
    assert "may or may not have been sent" in message.error_message
    assert message.outbound_job.state == "unconfirmed"
    [attempt] = attempts(message)
    assert attempt.outcome == "ambiguous"

    assert wait_for(lambda: fake_plivo.accepted)
    assert len(fake_plivo.accepted) == 1  # it did reach Plivo: a resend would text twice
    outbound_sweep()
    drain()
    assert len(fake_plivo.sends()) == 1

    later = timezone.now() + timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS + 1)
    with time_machine.travel(later):
        assert outbound_sweep()["timed_out"] == 1
    message = reload(message)
    assert message.status == MessageStatus.FAILED
    assert message.unconfirmed_since is None
    assert "may not have been sent" in message.error_message
    assert message.outbound_job.state == "failed"
    assert len(fake_plivo.sends()) == 1


def test_unconfirmed_message_is_not_failed_before_its_time(fake_plivo, settings, conversation):
    settings.PLIVO_API_TIMEOUT_SECONDS = 0.2
    fake_plivo.fail_next(0, delay=0.5, accept=True)
    message = queue_text(conversation)
    outbound_job_process(message_id=message.pk)
    almost = timezone.now() + timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS - 5)
    with time_machine.travel(almost):
        assert outbound_sweep()["timed_out"] == 0
    assert reload(message).status == MessageStatus.QUEUED
    assert wait_for(lambda: fake_plivo.accepted)  # the slow answer must not leak into the next test


def test_agent_retry_of_an_unconfirmed_failure_really_sends_again(fake_plivo, settings, conversation, agent):
    settings.PLIVO_API_TIMEOUT_SECONDS = 0.2
    fake_plivo.fail_next(504)
    fake_plivo.fail_next(0, delay=0.5, accept=True)
    message = queue_text(conversation)
    outbound_job_process(message_id=message.pk)  # 504: retried later
    OutboundJob.objects.filter(message=message).update(next_attempt_at=timezone.now())
    outbound_job_process(message_id=message.pk)  # timeout: unconfirmed
    assert wait_for(lambda: fake_plivo.accepted)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS + 1)):
        outbound_sweep()
    assert reload(message).status == MessageStatus.FAILED

    retried = message_retry(message=message, requested_by=agent)
    assert retried.status == MessageStatus.SENDING
    assert retried.error_message == "" and retried.failed_at is None
    assert retried.plivo_message_uuid == fake_plivo.accepted[-1].uuid
    last = attempts(message)[-1]
    assert (last.number, last.outcome, last.requested_by) == (3, "accepted", agent)
    assert len(sends_for(fake_plivo, message)) == 3


def test_agent_retry_gets_a_fresh_round_of_attempts(fake_plivo, fast_retries, conversation, agent):
    fake_plivo.fail_next(503, count=5)
    message = queue_text(conversation)
    drain()
    assert reload(message).status == MessageStatus.FAILED
    fake_plivo.fail_next(503, count=2)
    retried = message_retry(message=message, requested_by=agent)
    assert retried.status == MessageStatus.QUEUED and "attempt 2 of 5" in retried.error_message
    drain()
    assert reload(message).status == MessageStatus.SENDING
    assert len(sends_for(fake_plivo, message)) == 8


def test_only_failed_messages_can_be_retried(fake_plivo, conversation, agent):

    message = queue_text(conversation)
    with pytest.raises(ApplicationError, match="Only failed messages"):
        message_retry(message=message, requested_by=agent)
    assert not fake_plivo.sends()


def test_opt_out_while_queued_stops_the_send(fake_plivo, conversation):
    message = queue_text(conversation)
    contact_opt_out(contact=conversation.contact, channel="whatsapp", reason="STOP")
    drain()
    message = reload(message)
    assert not fake_plivo.sends()
    assert message.status == MessageStatus.FAILED
    assert "opted out" in message.error_message
    assert message.error_code == "parley_refused"  # Parley refused it, not Plivo


def test_messages_stored_as_refused_by_plivo_that_parley_refused_get_the_honest_code(conversation):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("conversations.migrations.0005_parley_refused_error_code")
    reason = "Not sent: the customer opted out while the message was waiting to be sent."
    refused = MessageFactory(conversation=conversation, direction="outbound", status="failed",
                             error_code="plivo_refused", error_message=reason)
    by_plivo = MessageFactory(conversation=conversation, direction="outbound", status="failed", error_code="http_400")
    migration.rename_code(apps, None)
    assert (reload(refused).error_code, reload(refused).error_message) == ("parley_refused", reason)
    assert reload(by_plivo).error_code == "http_400"


def test_window_closing_while_queued_stops_a_free_form_send(fake_plivo, conversation):
    message = queue_text(conversation)
    type(conversation).objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    drain()
    assert not fake_plivo.sends()
    assert "24-hour window closed" in reload(message).error_message


def test_worker_that_died_before_its_request_is_replaced_and_sends_once(fake_plivo, settings, conversation):
    message = queue_text(conversation)
    assert outbound_job_claim(message_id=message.pk, worker_id="dead-worker") is not None
    # Its task is gone with it; the job's lease is what brings the message back.
    assert outbound_sweep()["released"] == 0  # lease still valid
    after_lease = timezone.now() + timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS + 1)
    with time_machine.travel(after_lease):
        assert outbound_sweep()["released"] == 1
        drain()
    message = reload(message)
    assert message.status == MessageStatus.SENDING
    assert len(fake_plivo.sends()) == 1
    assert [(a.number, a.outcome) for a in attempts(message)] == [(1, "accepted")]


def test_worker_that_died_during_its_request_leaves_it_unconfirmed(fake_plivo, settings, conversation):
    message = queue_text(conversation)
    job = outbound_job_claim(message_id=message.pk, worker_id="dead-worker")
    SendAttempt.objects.create(message=message, number=job.attempts)  # then the process was killed
    after_lease = timezone.now() + timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS + 1)
    with time_machine.travel(after_lease):
        assert outbound_sweep()["unconfirmed"] == 1
        drain()
    message = reload(message)
    assert not fake_plivo.sends()
    assert message.outbound_job.state == "unconfirmed" and message.unconfirmed_since is not None
    assert "stopped while talking to Plivo" in message.error_message
    assert attempts(message)[0].outcome == "ambiguous"


def test_a_pending_job_is_all_a_worker_needs(fake_plivo, conversation):
    """The job is the queue: no trigger to lose (a job written by hand, or carried over from the
    django-tasks days, is sent like any other)."""
    message = MessageFactory(conversation=conversation, direction="outbound", status="queued", text="From the old queue")
    OutboundJob.objects.create(message=message, next_attempt_at=timezone.now() - timedelta(days=1))
    drain()
    assert reload(message).status == MessageStatus.SENDING and len(fake_plivo.sends()) == 1


@pytest.mark.django_db(transaction=True)
def test_report_after_a_timeout_confirms_the_unconfirmed_send(fake_plivo, settings, live_server):
    """The send timed out, but Plivo had it: its delivery report (matched by our ref) settles it."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.PLIVO_API_TIMEOUT_SECONDS = 0.2
    fake_plivo.fail_next(0, delay=0.5, accept=True)
    message = queue_text(open_conversation(phone="+14155550123"))
    assert outbound_job_process(message_id=message.pk) == "ambiguous"
    assert wait_for(lambda: fake_plivo.accepted)
    [accepted] = fake_plivo.accepted
    assert fake_plivo.report(accepted.uuid, "delivered", sequence=3) == 200
    receipts_apply_all()  # what the webhook worker does next
    message = reload(message)
    assert message.status == MessageStatus.DELIVERED
    assert message.plivo_message_uuid == accepted.uuid
    assert message.unconfirmed_since is None and message.error_message == ""
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS + 1)):
        outbound_sweep()
    assert reload(message).status == MessageStatus.DELIVERED  # never failed later
    assert message.outbound_job.state == "accepted"
    assert len(fake_plivo.sends()) == 1


def test_damaged_stored_payload_fails_plainly_without_a_request(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="location", location={"latitude": "1", "longitude": "2", "name": "Shop", "address": "Main St 1"})
    type(message).objects.filter(pk=message.pk).update(structured={"location": {"lat": "1"}})
    drain()
    message = reload(message)
    assert not fake_plivo.sends()
    assert message.status == MessageStatus.FAILED and "damaged" in message.error_message
    assert message.error_code == "parley_refused"
    assert attempts(message)[0].outcome == "permanent_error"


@pytest.mark.django_db(transaction=True)
def test_worker_survives_the_database_going_away(fake_plivo, monkeypatch):
    from django.db import OperationalError

    from conversations.outbound import OutboundWorker

    message = queue_text(open_conversation(phone="+14155550123"))
    monkeypatch.setattr(OutboundWorker, "database_retry_seconds", 0.01)
    real_work, failures = OutboundWorker.work, []

    def flaky_work(self):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_work(self)

    monkeypatch.setattr(OutboundWorker, "work", flaky_work)
    drain()
    assert failures and reload(message).status == MessageStatus.SENDING


def test_the_worker_prunes_inbox_events_past_retention(settings):
    from conversations import events
    from conversations.tests.factories import ConversationFactory

    settings.INBOX_EVENT_RETENTION_DAYS = 7
    conversation = ConversationFactory()
    old, recent = [broadcast(events.conversation_updated_event(conversation)) for _ in range(2)]
    InboxEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    drain()
    assert list(InboxEvent.objects.values_list("id", flat=True)) == [recent.id]
