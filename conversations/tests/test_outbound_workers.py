"""Real worker processes (`manage.py run_outbound_worker`): killed mid-send, stopped gracefully, racing."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from conversations.models import Message, MessageStatus, OutboundJob, SendAttempt
from conversations.outbound import message_send
from conversations.tests.factories import ContactFactory, ConversationFactory, UserFactory
from conversations.tests.live_server import LiveServer, database_url_for_current_connection
from conversations.tests.outbound_support import open_conversation, reload
from conversations.tests.support import at_once, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(django_settings.BASE_DIR)


class Worker:
    """One `manage.py run_outbound_worker` process against the test database and fake Plivo."""

    def __init__(self, tmp_path, name, settings, **env):
        self.log_path = tmp_path / f"{name}.log"
        self.log = open(self.log_path, "w")
        environment = {
            **os.environ,
            "DATABASE_URL": database_url_for_current_connection(),
            "DEBUG": "true",
            "OUTBOUND_WORKER_EMBEDDED": "false",
            "PLIVO_API_BASE_URL": settings.PLIVO_API_BASE_URL,
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
            "OUTBOUND_RETRY_BASE_SECONDS": "0.05",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_outbound_worker", "--interval", "0.05", "--sweep-interval", "0.2",
             "--worker-id", name],
            cwd=BASE_DIR, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout=60):
        assert wait_for(lambda: "running" in self.output() or self.process.poll() is not None, timeout=timeout), self.output()
        assert self.process.poll() is None, self.output()

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.log.close()


@pytest.fixture
def workers(tmp_path, settings):
    started = []

    def start(name, **env):
        worker = Worker(tmp_path, name, settings, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)
        if not worker.log.closed:
            worker.log.close()


def test_killed_worker_with_sends_in_flight_is_recovered_without_a_blind_resend(fake_plivo, workers):
    # Plivo takes the messages but answers slowly; the worker is killed while it waits for all four.
    fake_plivo.fail_next(0, delay=2.5, accept=True, count=4)
    messages = [message_send(conversation=open_conversation(phone=f"+1415555012{n}"), kind="text", text="Hi")[0]
                for n in range(4)]
    first = workers("worker-a", OUTBOUND_LEASE_SECONDS=2, PLIVO_API_TIMEOUT_SECONDS=30)
    # Mid-send: the attempts are recorded and the requests reached Plivo, which is still answering.
    assert wait_for(lambda: fake_plivo.faults_pending() == 0, timeout=60), first.output()
    assert SendAttempt.objects.filter(finished_at__isnull=True).count() == 4
    first.process.send_signal(signal.SIGKILL)
    assert first.stop() == -signal.SIGKILL
    assert {(job.state, job.claimed_by) for job in OutboundJob.objects.all()} == {("in_flight", "worker-a")}

    second = workers("worker-b", OUTBOUND_LEASE_SECONDS=2, OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS=4)
    # The leases run out; the second worker's sweep judges the sends ambiguous: no resend.
    unconfirmed = lambda: OutboundJob.objects.filter(state="unconfirmed").count() == 4  # noqa: E731
    assert wait_for(unconfirmed, timeout=30), second.output()
    for message in map(reload, messages):
        assert message.unconfirmed_since is not None and "may or may not have been sent" in message.error_message
        assert SendAttempt.objects.get(message=message).outcome == "ambiguous"
    assert wait_for(lambda: len(fake_plivo.accepted) == 4)  # Plivo did get them
    # No report arrives (our webhook is not reachable here): after the timeout the agent decides.
    failed = lambda: all(reload(m).status == MessageStatus.FAILED for m in messages)  # noqa: E731
    assert wait_for(failed, timeout=30), second.output()
    assert all("may not have been sent" in reload(m).error_message for m in messages)
    assert len(fake_plivo.sends()) == 4
    assert second.stop() == 0


def test_sigterm_finishes_the_sends_in_flight_then_exits(fake_plivo, workers):
    fake_plivo.fail_next(0, delay=1.0, accept=True, count=3)
    messages = [message_send(conversation=open_conversation(phone=f"+1415555012{n}"), kind="text", text="Hi")[0]
                for n in range(3)]
    worker = workers("worker-a", PLIVO_API_TIMEOUT_SECONDS=30)
    assert wait_for(lambda: fake_plivo.faults_pending() == 0, timeout=60), worker.output()  # requests in progress
    assert worker.stop(signal.SIGTERM) == 0
    assert "finishing the sends in flight" in worker.output()
    uuids = {m.uuid for m in fake_plivo.accepted}
    for message in map(reload, messages):
        assert message.status == MessageStatus.SENDING and message.plivo_message_uuid in uuids
        assert OutboundJob.objects.get(message=message).state == "accepted"


@pytest.mark.postgres
def test_two_workers_racing_never_send_a_message_twice(fake_plivo, workers):
    fake_plivo.transient_failure_rate = 0.1
    agent = UserFactory(username="racer")
    first, second = workers("worker-a"), workers("worker-b")
    first.wait_ready()
    second.wait_ready()
    messages = []
    for n in range(80):
        conversation = ConversationFactory(contact=ContactFactory(phone=f"+1415555{1000 + n:04d}"), channel="sms")
        message, _ = message_send(conversation=conversation, kind="text", text=f"Message {n}", sent_by=agent)
        messages.append(message)
    done = lambda: Message.objects.filter(pk__in=[m.pk for m in messages], status=MessageStatus.SENDING).count() == 80  # noqa: E731
    assert wait_for(done, timeout=120), first.output()[-2000:] + second.output()[-2000:]
    per_message = Counter(m.body["url"].rsplit("ref=", 1)[1] for m in fake_plivo.accepted)
    assert len(per_message) == 80 and set(per_message.values()) == {1}
    assert any(r.status != 202 for r in fake_plivo.sends())  # transient failures happened and were retried
    assert {j.claimed_by for j in OutboundJob.objects.all()} == {"worker-a", "worker-b"}
    assert first.stop() == 0 and second.stop() == 0


@pytest.mark.postgres
def test_concurrent_requests_with_one_idempotency_key_store_one_message(agent):
    conversation = open_conversation(phone="+14155550123")
    results = at_once(lambda: message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent,
                                           idempotency_key="same-click"))
    assert len({message.pk for message, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert Message.objects.filter(direction="outbound").count() == OutboundJob.objects.count() == 1


def test_embedded_worker_in_the_web_process_sends_queued_messages(fake_plivo, tmp_path, settings):
    """`make run`: daphne serving messaging_site.asgi also drains the queue (no worker process)."""
    server = LiveServer(database_url=database_url_for_current_connection(), log_path=tmp_path / "daphne.log",
                        extra_env={"OUTBOUND_WORKER_EMBEDDED": "true", "PLIVO_API_BASE_URL": settings.PLIVO_API_BASE_URL})
    try:
        message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
        assert wait_for(lambda: reload(message).status == MessageStatus.SENDING, timeout=60), server.log_path.read_text()
        assert fake_plivo.accepted[0].body["url"] == f"{server.url}/webhooks/plivo/status/?ref={message.pk}"
    finally:
        server.stop()
