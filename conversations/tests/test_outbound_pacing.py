"""Pacing: Plivo's account limit shared by every worker, each sender's MPS, and what a 429 does."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from conversations.apps import check_plivo_settings
from conversations.models import MessageStatus, OutboundJob, SendAttempt
from conversations.outbound import message_send, outbound_job_process, pacing
from conversations.serializers import MessageSerializer
from conversations.tests.factories import ContactFactory, ConversationFactory
from conversations.tests.outbound_support import drain, open_conversation, reload, sends_for
from conversations.tests.test_outbound_workers import workers  # noqa: F401 (fixture)
from conversations.tests.support import wait_for


def arrivals(requests) -> list[float]:
    return sorted(r.at for r in requests)


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most requests that reached the server within any `seconds`-long window."""
    return max(sum(1 for t in times[i:] if t < start + seconds) for i, start in enumerate(times))


def sms_conversations(count: int, start: int = 1000):
    return [ConversationFactory(contact=ContactFactory(phone=f"+1415555{start + n:04d}"), channel="sms")
            for n in range(count)]


def test_rates_are_parsed_and_bad_ones_are_refused(settings):
    assert pacing.rate_parse("300/5s") == pacing.Rate(300, 5.0)
    assert pacing.rate_parse("60/s").interval == pytest.approx(1 / 60)
    assert pacing.sender_mps_parse("+14155550199=5, +14155550100=80") == {"+14155550199": 5.0, "+14155550100": 80.0}
    for bad in ("300 per 5s", "0/5s", "300/0s"):
        with pytest.raises(ImproperlyConfigured, match="PLIVO_API_RATE_LIMIT"):
            pacing.rate_parse(bad)
    with pytest.raises(ImproperlyConfigured, match="PLIVO_SENDER_MPS"):
        pacing.sender_mps_parse("+14155550199:5")
    settings.PLIVO_SENDER_MPS = "14155550199=-1"
    assert "parley.E004" in [problem.id for problem in check_plivo_settings()]


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_are_spaced_at_the_account_limit(fake_plivo, settings):
    settings.PLIVO_API_RATE_LIMIT = "10/1s"  # paced at 95%: 105 ms apart
    for conversation in sms_conversations(8):
        message_send(conversation=conversation, kind="text", text="Hello")
    drain(concurrency=8)
    times = arrivals(fake_plivo.sends())
    assert len(times) == 8
    # 7 intervals of 105 ms; 8 threads at once would arrive within milliseconds without the
    # limiter. (On a busy machine a request can reach the server late: the span, not each gap.)
    assert times[-1] - times[0] > 0.5, times


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_account_limit_holds_across_worker_processes(fake_plivo, workers):  # noqa: F811
    agent_count = 24
    first = workers("worker-a", PLIVO_API_RATE_LIMIT="10/1s")
    second = workers("worker-b", PLIVO_API_RATE_LIMIT="10/1s")
    first.wait_ready()
    second.wait_ready()
    for conversation in sms_conversations(agent_count):
        message_send(conversation=conversation, kind="text", text="Hello")
    assert wait_for(lambda: len(fake_plivo.accepted) == agent_count, timeout=60), first.output() + second.output()
    assert {job.claimed_by for job in OutboundJob.objects.all()} == {"worker-a", "worker-b"}
    # Each process alone would send 9.5 a second: together they would send 19. (A little room
    # for requests that reach the server late on a busy machine.)
    assert most_in_any_window(arrivals(fake_plivo.sends()), 1.0) <= 12
    assert first.stop() == 0 and second.stop() == 0


@pytest.mark.django_db
def test_a_429_pauses_every_request_for_retry_after_and_is_not_an_error(fake_plivo, settings):
    settings.OUTBOUND_MAX_ATTEMPTS = 2  # a 429 does not use up one of the message's attempts
    fake_plivo.fail_next(429, retry_after=20)
    fake_plivo.fail_next(503)
    message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
    before = timezone.now()
    assert outbound_job_process(message_id=message.pk) == "throttled"
    message = reload(message)
    assert message.status == MessageStatus.QUEUED and message.error_code == "rate_limited"
    assert message.next_attempt_at >= before + timezone.timedelta(seconds=20)
    wire = MessageSerializer(message).data
    assert (wire["retry_reason"], wire["next_attempt_at"] is not None) == ("Plivo rate limit", True)
    # No worker's request goes out before Retry-After has passed.
    assert pacing.request_turn(within=0) == pytest.approx(20, abs=1)
    pacing.reset()
    OutboundJob.objects.filter(message=message).update(next_attempt_at=timezone.now())
    assert outbound_job_process(message_id=message.pk) == "transient"
    assert "Plivo was unavailable (HTTP 503); retrying in" in reload(message).error_message
    assert "attempt 2 of 2" in reload(message).error_message and MessageSerializer(reload(message)).data["retry_reason"] == "Plivo busy"
    OutboundJob.objects.filter(message=message).update(next_attempt_at=timezone.now())
    assert outbound_job_process(message_id=message.pk) == "accepted"
    message = reload(message)
    assert message.status == MessageStatus.SENDING and message.error_code == "" and message.next_attempt_at is None
    assert [(a.outcome, a.http_status) for a in SendAttempt.objects.filter(message=message)] == [
        ("transient_error", 429), ("transient_error", 503), ("accepted", 202)]


@pytest.mark.django_db
def test_a_claimed_job_whose_turn_is_far_off_goes_back_to_the_queue_unsent(fake_plivo):
    message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
    pacing.rate_limited(retry_after=30)
    assert outbound_job_process(message_id=message.pk) == "deferred"
    job = OutboundJob.objects.get(message=message)
    assert (job.state, job.attempts, job.claimed_by) == ("pending", 0, "")
    assert job.next_attempt_at >= timezone.now() + timezone.timedelta(seconds=25)
    assert not fake_plivo.sends() and not SendAttempt.objects.exists()
    assert reload(message).error_message == ""  # waiting for its turn is not news for the agent


@pytest.mark.django_db(transaction=True)
def test_a_paced_sender_is_held_to_its_mps_while_other_senders_go_ahead(fake_plivo, settings):
    settings.PLIVO_SENDER_MPS = f"{settings.PLIVO_SMS_NUMBER}=4"
    sms = [message_send(conversation=c, kind="text", text="Bulk")[0] for c in sms_conversations(5)]
    whatsapp, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Reply")
    drain(concurrency=8)
    times = arrivals(r for m in sms for r in sends_for(fake_plivo, m))
    assert len(times) == 5 and times[-1] - times[0] > 0.7, times  # 4 a second: 4 gaps of 250 ms
    # The WhatsApp number is not paced: its message did not wait behind the SMS backlog.
    [reply] = sends_for(fake_plivo, whatsapp)
    assert reply.at < times[-1]
