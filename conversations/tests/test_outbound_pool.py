"""A worker keeps many sends in flight, agent replies first; a send never goes out twice."""

import threading
from collections import Counter

import pytest
from django.db import OperationalError
from django.utils import timezone

from conversations import events
from conversations.models import MessageStatus, OutboundJob, SendAttempt
from conversations.outbound import jobs, message_send, outbound_jobs_claim_due, outbound_sweep
from conversations.outbound.service import job_send
from conversations.outbound.worker import OutboundWorker
from conversations.tests.factories import ContactFactory, ConversationFactory
from conversations.tests.outbound_support import drain, open_conversation, reload, sends_for
from conversations.tests.support import wait_for


def sms(n: int):
    return ConversationFactory(contact=ContactFactory(phone=f"+1415555{2000 + n:04d}"), channel="sms")


@pytest.mark.django_db(transaction=True)
def test_hanging_requests_hold_only_their_own_threads(fake_plivo, settings):
    settings.PLIVO_API_TIMEOUT_SECONDS = 2
    fake_plivo.fail_next(0, delay=3, accept=True, count=4)  # Plivo takes the first four but answers too late
    messages = [message_send(conversation=sms(n), kind="text", text="Hello")[0] for n in range(16)]
    drain(concurrency=16)
    assert wait_for(lambda: len(fake_plivo.sends()) == 16)  # the slow answers came (none leaks into the next test)
    assert len(fake_plivo.accepted) == 16
    attempts = [SendAttempt.objects.get(message=m) for m in messages]
    hanging = [a for a in attempts if a.outcome == "ambiguous"]
    answered = [a for a in attempts if a.outcome == "accepted"]
    assert (len(hanging), len(answered)) == (4, 12)
    for message in (reload(a.message) for a in hanging):
        assert message.unconfirmed_since is not None and message.outbound_job.state == "unconfirmed"
    # Every other send was answered while the four were still hanging.
    assert max(a.finished_at for a in answered) < min(a.finished_at for a in hanging)


@pytest.mark.django_db
def test_an_agents_reply_is_claimed_before_a_bulk_backlog():
    bulk = [message_send(conversation=sms(n), kind="text", text="Campaign", priority=OutboundJob.Priority.BULK)[0]
            for n in range(20)]
    reply, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Reply")
    [first] = outbound_jobs_claim_due(limit=1, worker_id="w")
    assert first.message_id == reply.pk
    assert [job.message_id for job in outbound_jobs_claim_due(limit=3, worker_id="w")] == [m.pk for m in bulk[:3]]


@pytest.mark.django_db
def test_a_claim_takes_at_most_bulk_limit_bulk_jobs_and_every_reply():
    bulk = [message_send(conversation=sms(n), kind="text", text="Campaign", priority=OutboundJob.Priority.BULK)[0]
            for n in range(6)]
    reply, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Reply")
    assert outbound_jobs_claim_due(limit=5, worker_id="w", bulk_limit=0) and \
        not outbound_jobs_claim_due(limit=5, worker_id="w", bulk_limit=0)  # the reply, then nothing
    assert OutboundJob.objects.get(message=reply).state == "in_flight"
    assert [job.message_id for job in outbound_jobs_claim_due(limit=5, worker_id="w", bulk_limit=2)] == [m.pk for m in bulk[:2]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [8, 3])  # 1 thread kept either way (an eighth, at least one)
def test_a_campaign_backlog_never_takes_the_threads_kept_for_agent_replies(fake_plivo, concurrency):
    fake_plivo.latency = 2.0  # every bulk send holds its thread (1.5 to 2.5 s)
    for n in range(40):
        message_send(conversation=sms(n), kind="text", text="Campaign", priority=OutboundJob.Priority.BULK)
    worker = OutboundWorker(worker_id="w", interval=0.01, concurrency=concurrency)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: OutboundJob.objects.filter(state="in_flight").count() == concurrency - 1)
        reply, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Reply")
        assert wait_for(lambda: OutboundJob.objects.get(message=reply).state != "pending", timeout=1)
        # Claimed (and on its way) while every bulk send in hand still waits for its answer.
        assert Counter(OutboundJob.objects.filter(priority=OutboundJob.Priority.BULK).values_list("state", flat=True)) \
            == Counter({"in_flight": concurrency - 1, "pending": 41 - concurrency})
    finally:
        worker.stop()
        thread.join(10)


@pytest.mark.django_db
def test_a_claim_takes_only_due_pending_jobs_and_counts_the_attempt():
    due, _ = message_send(conversation=sms(1), kind="text", text="Now")
    later, _ = message_send(conversation=sms(2), kind="text", text="Later")
    OutboundJob.objects.filter(message=later).update(next_attempt_at=timezone.now() + timezone.timedelta(minutes=1))
    [job] = outbound_jobs_claim_due(limit=10, worker_id="worker-a")
    assert (job.message_id, job.state, job.attempts, job.claimed_by) == (due.pk, "in_flight", 1, "worker-a")
    assert job.lease_expires_at > timezone.now()
    assert outbound_jobs_claim_due(limit=10, worker_id="worker-b") == []  # nothing claimed twice


@pytest.mark.django_db
def test_a_send_whose_claim_was_taken_over_while_it_waited_makes_no_request(fake_plivo, settings):
    message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
    [job] = outbound_jobs_claim_due(limit=1, worker_id="slow-worker")
    # Its lease ran out before its turn came, and the sweep gave the job back to the queue.
    OutboundJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert outbound_sweep()["released"] == 1
    assert job_send(job=job) == "lost"
    assert not fake_plivo.sends() and not SendAttempt.objects.exists()
    drain()
    assert len(sends_for(fake_plivo, message)) == 1 and reload(message).status == MessageStatus.SENDING


@pytest.mark.django_db(transaction=True)
def test_an_accepted_send_is_recorded_after_the_database_comes_back(fake_plivo, monkeypatch):
    message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
    real_record, failures = jobs.outcome_record, []

    def record_after_an_outage(**kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_record(**kwargs)

    monkeypatch.setattr(jobs, "outcome_record", record_after_an_outage)
    monkeypatch.setattr("conversations.outbound.service.time.sleep", lambda seconds: None)
    drain(concurrency=4)
    message = reload(message)
    assert len(failures) == 2 and message.status == MessageStatus.SENDING
    assert message.plivo_message_uuid == fake_plivo.accepted[0].uuid and len(fake_plivo.sends()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_pooled_worker_pushes_its_sends_events_together(fake_plivo, monkeypatch):
    pushed = []
    monkeypatch.setattr(events, "group_send", lambda group, message: pushed.append(message))
    messages = [message_send(conversation=sms(n), kind="text", text="Hello", priority=OutboundJob.Priority.BULK)[0]
                for n in range(12)]
    pushed.clear()
    drain(concurrency=4)

    def updates():
        return [event for message in list(pushed) for event in message["events"] if event["type"] == "message.updated"]

    # Within a push interval (another pooled worker of this process may hold the coalescer open).
    assert wait_for(lambda: sorted(event["payload"]["message"]["id"] for event in updates()) == sorted(m.pk for m in messages),
                    timeout=2)
    updates = updates()
    assert len(pushed) < len(updates)  # together, not one channel-layer message per send
