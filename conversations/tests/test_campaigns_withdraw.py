"""Pause and stop withdraw the campaign's queued messages no worker has claimed yet: a paused
recipient is pending again and gets exactly one message after the resume, a stopped one stays
unsent; a message a worker already claimed is left to finish. On PostgreSQL, the withdrawal
and a worker's claim (both `SKIP LOCKED`) and the dispatcher's batch race each other."""

import threading
from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conversations.campaign_models import CampaignRecipient
from conversations.campaigns import dispatch, lifecycle
from conversations.campaigns.dispatch import campaign_dispatch_batch
from conversations.models import Message, OutboundJob
from conversations.outbound import job_send, message_retry, outbound_jobs_claim_due
from conversations.reports.rollups import report_refresh
from conversations.reports.summary import ReportFilter, report_summary
from conversations.tests.campaign_support import any_hour, manager, run_to_end, whatsapp_campaign  # noqa: F401 (fixtures)
from conversations.tests.outbound_support import drain
from messaging_site.errors import ApplicationError

PHONES = [f"+1415555{2300 + n}" for n in range(6)]
State = OutboundJob.State


def sent_numbers(fake_plivo) -> Counter:
    return Counter(request.body["dst"] for request in fake_plivo.sends() if request.body)


def sending(manager, phones=PHONES, **kwargs):
    campaign = whatsapp_campaign(manager, phones=phones, rate_per_second=50, **kwargs)
    return lifecycle.campaign_start(campaign=campaign, by=manager)


def queue_all(campaign):
    """Dispatch until every recipient is queued (none sent: no worker runs)."""
    for _ in range(50):
        campaign_dispatch_batch(campaign_id=campaign.pk)
        if not campaign.recipients.filter(status="pending").exists():
            return
        threading.Event().wait(0.05)
    raise AssertionError("not every recipient was queued")


def statuses(campaign) -> Counter:
    return Counter(campaign.recipients.values_list("status", flat=True))


def in_thread(call, *, hold: threading.Event, ready: threading.Event, errors: list) -> threading.Thread:
    """Run `call()` inside a transaction on its own connection; signal `ready`, then keep the
    transaction (and its locks) open until `hold` is set."""
    def run():
        try:
            with transaction.atomic():
                call()
                ready.set()
                assert hold.wait(10)
        except Exception as exc:  # pragma: no cover - reported by the test
            errors.append(exc)
            ready.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db
def test_pause_withdraws_the_unclaimed_and_the_resume_sends_each_recipient_once(manager, fake_plivo, any_hour):
    campaign = sending(manager)
    queue_all(campaign)
    claimed = outbound_jobs_claim_due(limit=2, worker_id="worker-a")  # a worker holds two
    lifecycle.campaign_pause(campaign=campaign, by=manager)
    assert statuses(campaign) == Counter({"queued": 2, "pending": 4})
    assert Counter(OutboundJob.objects.values_list("state", flat=True)) == Counter({State.IN_FLIGHT: 2, State.WITHDRAWN: 4})
    withdrawn = Message.objects.filter(outbound_job__state=State.WITHDRAWN)
    assert {(m.status, m.error_code) for m in withdrawn} == {("failed", "parley_refused")}
    assert "paused" in withdrawn.first().error_message
    for job in claimed:  # the worker finishes the two it holds
        job_send(job=job)
    drain()  # nothing else goes out while paused
    assert {request.body["dst"] for request in fake_plivo.sends()} == {job.message.conversation.contact.phone for job in claimed}

    lifecycle.campaign_resume(campaign=campaign, by=manager)
    assert run_to_end(campaign).status == "completed"
    assert sent_numbers(fake_plivo) == Counter({phone: 1 for phone in PHONES})
    recipients = list(campaign.recipients.select_related("message__outbound_job"))
    assert {r.message.outbound_job.state for r in recipients} == {State.ACCEPTED}


def stopped_with_one_sent(manager):
    """Every recipient queued, a worker claims one, the campaign stops, the worker sends its one."""
    campaign = sending(manager)
    queue_all(campaign)
    claimed = outbound_jobs_claim_due(limit=1, worker_id="worker-a")
    lifecycle.campaign_stop(campaign=campaign, by=manager)
    job_send(job=claimed[0])
    return campaign


@pytest.mark.django_db
def test_stop_withdraws_the_unclaimed_and_leaves_them_unsent(manager, fake_plivo, any_hour):
    campaign = stopped_with_one_sent(manager)
    drain()
    assert statuses(campaign) == Counter({"queued": 1, "pending": 5})
    assert len(sent_numbers(fake_plivo)) == 1
    assert not OutboundJob.objects.filter(state=State.PENDING).exists()


@pytest.mark.django_db
def test_a_withdrawn_message_cannot_be_retried_by_hand(manager, fake_plivo, any_hour):
    campaign = sending(manager, phones=PHONES[:1])
    queue_all(campaign)
    lifecycle.campaign_pause(campaign=campaign, by=manager)
    withdrawn = Message.objects.get(outbound_job__state=State.WITHDRAWN)
    with pytest.raises(ApplicationError) as refused:
        message_retry(message=withdrawn, requested_by=manager)
    assert refused.value.status == 409 and "withdrawn" in refused.value.message
    assert not fake_plivo.sends()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_jobs_a_worker_is_claiming_are_left_to_it_and_the_rest_withdrawn(manager, any_hour):
    campaign = sending(manager)
    queue_all(campaign)
    hold, ready, errors, claimed = threading.Event(), threading.Event(), [], []
    # A worker's claim, its transaction (and row locks) still open when the pause comes.
    worker = in_thread(lambda: claimed.extend(outbound_jobs_claim_due(limit=2, worker_id="worker-a")),
                       hold=hold, ready=ready, errors=errors)
    assert ready.wait(10)
    try:
        lifecycle.campaign_pause(campaign=campaign, by=manager)  # does not wait for the worker's locks
    finally:
        hold.set()
        worker.join(10)
    assert not errors and len(claimed) == 2
    jobs = Counter(OutboundJob.objects.values_list("state", "claimed_by"))
    assert jobs == Counter({(State.IN_FLIGHT, "worker-a"): 2, (State.WITHDRAWN, ""): 4})
    assert set(CampaignRecipient.objects.filter(status="queued").values_list("message_id", flat=True)) == \
        {job.message_id for job in claimed}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_claiming_during_a_pause_gets_none_of_the_withdrawn(manager, any_hour):
    campaign = sending(manager)
    queue_all(campaign)
    hold, ready, errors = threading.Event(), threading.Event(), []
    pause = in_thread(lambda: lifecycle.campaign_pause(campaign=campaign, by=manager), hold=hold, ready=ready, errors=errors)
    assert ready.wait(10)
    try:
        assert outbound_jobs_claim_due(limit=10, worker_id="worker-a") == []  # locked by the pause: skipped
    finally:
        hold.set()
        pause.join(10)
    assert not errors
    assert outbound_jobs_claim_due(limit=10, worker_id="worker-a") == []  # and withdrawn once it commits
    assert set(OutboundJob.objects.values_list("state", flat=True)) == {State.WITHDRAWN}
    assert statuses(campaign) == Counter({"pending": 6})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pause_during_a_dispatch_batch_waits_for_it_then_withdraws_what_it_queued(manager, any_hour):
    campaign = sending(manager)
    hold, ready, errors, queued = threading.Event(), threading.Event(), [], []
    real_queue = dispatch._queue

    def queue_then_hold(*args, **kwargs):
        result = real_queue(*args, **kwargs)
        ready.set()  # the batch's messages are written, its transaction still open
        assert hold.wait(10)
        return result

    def batch():
        try:
            queued.append(campaign_dispatch_batch(campaign_id=campaign.pk))
        except Exception as exc:  # pragma: no cover - reported by the test
            errors.append(exc)
            ready.set()
        finally:
            connection.close()

    paused = threading.Event()

    def pause():
        try:
            lifecycle.campaign_pause(campaign=campaign, by=manager)
            paused.set()
        finally:
            connection.close()

    with mock.patch.object(dispatch, "_queue", queue_then_hold):
        dispatcher = threading.Thread(target=batch)
        dispatcher.start()
        assert ready.wait(10)
        pauser = threading.Thread(target=pause)
        pauser.start()
        try:
            assert not paused.wait(0.5)  # the batch holds the campaign (share mode) until it commits
        finally:
            hold.set()
            dispatcher.join(10)
            pauser.join(10)
    assert not errors and paused.is_set() and queued[0] >= 1
    assert statuses(campaign) == Counter({"pending": 6})
    assert set(OutboundJob.objects.values_list("state", flat=True)) == {State.WITHDRAWN}
    assert campaign_dispatch_batch(campaign_id=campaign.pk) == 0


@pytest.mark.django_db
def test_withdrawn_messages_count_in_no_report_neither_sent_nor_failed(manager, fake_plivo, any_hour):
    stopped_with_one_sent(manager)
    while report_refresh():
        pass
    today = timezone.now().date()
    report = report_summary(ReportFilter(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1)))
    assert (report["messages_sent"], report["messages_failed"]) == (1, 0)  # the one a worker had claimed
    assert Message.objects.filter(outbound_job__state=State.WITHDRAWN).count() == 5
