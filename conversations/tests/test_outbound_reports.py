"""No send left without a fate: an accepted send no delivery report settles is looked up at Plivo."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from conversations.models import MessageStatus, MessageStatusEvent, OutboundJob
from conversations.outbound import message_send, outbound_job_process, outbound_sweep, pacing
from conversations.outbound.jobs import REPORT_LOOKUPS_MAX
from conversations.services.delivery_reports import status_report_apply
from conversations.tests.outbound_support import drain, open_conversation, reload
from conversations.tests.support import wait_for
from webhooks.payloads import StatusReport
from webhooks.worker import WebhookWorker

pytestmark = pytest.mark.django_db


def accepted_send(fake_plivo, phone="+14155550123"):
    message, _ = message_send(conversation=open_conversation(phone=phone), kind="text", text="Hi")
    assert outbound_job_process(message_id=message.pk) == "accepted"
    return reload(message)


def after(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds))


def test_a_send_without_any_report_is_looked_up_and_gets_the_state_plivo_returns(fake_plivo, settings):
    message = accepted_send(fake_plivo)
    fake_plivo.set_state(message.plivo_message_uuid, "delivered")
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS - 5):
        assert outbound_sweep()["looked_up"] == 0
    assert not fake_plivo.lookups()
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        assert outbound_sweep()["looked_up"] == 1
    message = reload(message)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert [r.path.rsplit("/", 2)[-2] for r in fake_plivo.lookups()] == [message.plivo_message_uuid]
    [event] = MessageStatusEvent.objects.filter(message=message)
    assert (event.status, event.raw_payload["source"], event.applied) == ("delivered", "lookup", True)
    assert message.outbound_job.report_due_at is None  # settled: never asked again
    with after(10 * settings.OUTBOUND_REPORT_TIMEOUT_SECONDS):
        assert outbound_sweep()["looked_up"] == 0


def test_a_failure_found_by_lookup_fails_the_message_with_plivos_reason(fake_plivo, settings):
    message = accepted_send(fake_plivo)
    fake_plivo.set_state(message.plivo_message_uuid, "undelivered", error_code="80")
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        outbound_sweep()
    message = reload(message)
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, "80")
    assert "unreachable" in message.error_message


def test_a_message_plivo_does_not_know_is_failed_with_a_plain_reason(fake_plivo, settings):
    message = accepted_send(fake_plivo)
    fake_plivo.forget(message.plivo_message_uuid)
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        outbound_sweep()
    message = reload(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "unknown_to_plivo")
    assert message.error_message.startswith("Not sent: Plivo accepted this message but later had no record of it")
    assert message.outbound_job.state == "failed"


def test_a_state_that_settles_nothing_is_asked_again_later_then_left(fake_plivo, settings):
    timeout = settings.OUTBOUND_REPORT_TIMEOUT_SECONDS
    message = accepted_send(fake_plivo)
    fake_plivo.set_state(message.plivo_message_uuid, "sent")  # the carrier never reports back
    elapsed = 0
    for lookup in range(REPORT_LOOKUPS_MAX):
        elapsed += timeout * 2 ** lookup + 1
        with after(elapsed):
            assert outbound_sweep()["looked_up"] == 1, f"lookup {lookup + 1}"
    assert reload(message).status == MessageStatus.SENT
    with after(elapsed + 100 * timeout):
        assert outbound_sweep()["looked_up"] == 0
    assert len(fake_plivo.lookups()) == REPORT_LOOKUPS_MAX


def test_plivo_failing_to_answer_a_lookup_is_asked_again_soon(fake_plivo, settings):
    message = accepted_send(fake_plivo)
    fake_plivo.rate_limit = (1, 3600.0)  # the send took the hour's one request: the lookup gets 429
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        outbound_sweep()
    assert [r.status for r in fake_plivo.lookups()] == [429]
    assert reload(message).status == MessageStatus.SENDING
    job = OutboundJob.objects.get(message=message)
    assert job.report_due_at is not None and job.report_lookups == 0


def test_a_report_that_settles_the_send_means_no_lookup(fake_plivo, settings):
    message = accepted_send(fake_plivo)
    status_report_apply(report=StatusReport(message_uuid=message.plivo_message_uuid, status="delivered", sequence=3))
    with after(10 * settings.OUTBOUND_REPORT_TIMEOUT_SECONDS):
        assert outbound_sweep()["looked_up"] == 0
    assert not fake_plivo.lookups()


def test_a_report_that_settles_nothing_moves_the_lookup_on(fake_plivo, settings):
    timeout = settings.OUTBOUND_REPORT_TIMEOUT_SECONDS
    message = accepted_send(fake_plivo)
    with after(timeout - 10):
        status_report_apply(report=StatusReport(message_uuid=message.plivo_message_uuid, status="sent", sequence=2))
    with after(timeout + 1):
        assert outbound_sweep()["looked_up"] == 0  # the sent report came 10 s before the deadline
    with after(2 * timeout):
        assert outbound_sweep()["looked_up"] == 1


def test_every_lookup_takes_its_turn_under_the_account_limit(fake_plivo, settings, monkeypatch):
    message = accepted_send(fake_plivo)
    turns = []
    monkeypatch.setattr(pacing, "request_turn", lambda **kwargs: turns.append(kwargs))
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        outbound_sweep()
    assert turns == [{}] and len(fake_plivo.lookups()) == 1
    assert reload(message).status == MessageStatus.SENDING  # "queued" at Plivo: nothing new


def test_the_simulators_4444_number_ends_delivered_after_the_timeout(fake_plivo, settings):
    fake_plivo.auto_report = True  # 4444: Plivo delivers it, its reports never arrive
    message = accepted_send(fake_plivo, phone="+14155554444")
    assert wait_for(lambda: fake_plivo.messages[message.plivo_message_uuid].state == "delivered")
    assert reload(message).status == MessageStatus.SENDING
    with after(settings.OUTBOUND_REPORT_TIMEOUT_SECONDS + 1):
        drain()  # the worker's sweep
    assert reload(message).status == MessageStatus.DELIVERED


def test_a_report_parked_before_the_uuid_was_stored_is_applied_by_the_webhook_worker(fake_plivo):
    message, _ = message_send(conversation=open_conversation(phone="+14155550123"), kind="text", text="Hi")
    uuid = "5b40a428-bfc7-4daf-9d06-726c558bf3b8"
    # The report arrives without our ref, before the send's answer is stored: parked.
    status_report_apply(report=StatusReport(message_uuid=uuid, status="delivered", sequence=3))
    assert MessageStatusEvent.objects.get().message is None
    type(message).objects.filter(pk=message.pk).update(plivo_message_uuid=uuid, status="sending")  # the send's answer
    assert WebhookWorker().parked_reports_attach() == 1
    assert reload(message).status == MessageStatus.DELIVERED
    assert WebhookWorker().parked_reports_attach() == 0


@pytest.mark.parametrize("report, job_state, job_error", [
    ("failed", "failed", "explained"),  # Plivo had it after all, and it failed
    ("delivered", "accepted", ""),
])
def test_a_report_settles_a_send_left_unconfirmed(fake_plivo, report, job_state, job_error):
    message = accepted_send(fake_plivo)
    OutboundJob.objects.filter(message=message).update(state="unconfirmed", last_error="timed out")
    status_report_apply(report=StatusReport(message_uuid=message.plivo_message_uuid, status=report, sequence=3,
                                            error_code="30" if report == "failed" else ""))
    job = OutboundJob.objects.get(message=message)
    assert job.state == job_state and job.report_due_at is None
    assert (job.last_error != "" and job.last_error != "timed out") if job_error else job.last_error == ""


def test_a_failure_report_of_an_accepted_send_keeps_the_job_accepted(fake_plivo):
    message = accepted_send(fake_plivo)
    status_report_apply(report=StatusReport(message_uuid=message.plivo_message_uuid, status="failed", sequence=3,
                                            error_code="30"))
    job = OutboundJob.objects.get(message=message)
    assert (job.state, job.last_error, job.report_due_at) == ("accepted", "", None)
    assert reload(message).status == MessageStatus.FAILED
