"""Sending a campaign: through the outbound engine at bulk priority, each recipient at most once
(a batch that dies, a pause, a stop), consent and quiet hours checked at the moment of sending,
its pace, and results that follow the messages and the customers' replies."""

from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.campaigns import dispatch, lifecycle, recipients, results
from conversations.campaigns.dispatch import campaign_dispatch_batch, campaigns_dispatch, campaigns_progress_broadcast
from conversations.models import InboxEvent, Message, OutboundJob
from conversations.privacy.consent import consent_record
from conversations.privacy.suppression import number_suppress
from conversations.services.contacts import contact_opt_in, contact_opt_out
from conversations.services.delivery_reports import status_report_apply
from conversations.services.inbound import message_receive
from conversations.tests.campaign_support import (  # noqa: F401 (fixtures)
    any_hour,
    approved_template,
    manager,
    run_to_end,
    sms_campaign,
    whatsapp_campaign,
)
from conversations.tests.factories import ContactFactory
from conversations.tests.outbound_support import drain
from webhooks.payloads import InboundPayload, StatusReport

pytestmark = pytest.mark.django_db

PHONES = ["+14155552001", "+14155552002", "+14155552003", "+14155552004"]


def sent_numbers(fake_plivo) -> Counter:
    return Counter(request.body["dst"] for request in fake_plivo.sends() if request.body)


def started(campaign: Campaign, by) -> Campaign:
    return lifecycle.campaign_start(campaign=campaign, by=by)


def test_every_recipient_gets_one_template_message_at_bulk_priority(manager, fake_plivo, any_hour):
    campaign = started(whatsapp_campaign(manager, phones=PHONES), manager)
    assert run_to_end(campaign).status == "completed"
    assert sent_numbers(fake_plivo) == Counter({phone: 1 for phone in PHONES})
    messages = Message.objects.filter(campaign_recipient__campaign=campaign)
    assert messages.count() == 4 and {m.kind for m in messages} == {"template"}
    assert messages.first().text.startswith("Hi Ann, 20% off")
    assert set(OutboundJob.objects.values_list("priority", flat=True)) == {OutboundJob.Priority.BULK}
    assert messages.first().sent_by is None and messages.first().conversation.assignee is None


def test_sms_campaign_fills_each_recipients_placeholders(manager, fake_plivo, any_hour):
    campaign = sms_campaign(manager)
    recipients.recipients_add(campaign=campaign, rows=[(PHONES[0], ["Ann", "sale"]), (PHONES[1], ["Bo", "new hours"])])
    run_to_end(started(campaign, manager))
    texts = {request.body["dst"]: request.body["text"] for request in fake_plivo.sends()}
    assert texts == {"+14155552001": "Hi Ann, news: sale. Reply STOP to opt out.",
                     "+14155552002": "Hi Bo, news: new hours. Reply STOP to opt out."}


def test_an_opt_out_after_adding_is_honoured_at_sending(manager, fake_plivo, any_hour):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    contact_opt_out(contact=ContactFactory(phone=PHONES[1]), channel="whatsapp", reason="STOP")
    number_suppress(phone=PHONES[2], channel="whatsapp")  # an erased contact that had opted out
    run_to_end(started(campaign, manager))
    assert set(sent_numbers(fake_plivo)) == {PHONES[0], PHONES[3]}
    skipped = dict(campaign.recipients.filter(status="skipped").values_list("phone", "skip_reason"))
    assert skipped == {PHONES[1]: "opted_out", PHONES[2]: "opted_out"}


def test_campaign_require_opt_in_sends_marketing_only_to_recorded_opt_ins(manager, fake_plivo, any_hour, settings):
    settings.CAMPAIGN_REQUIRE_OPT_IN = True
    opted_in = ContactFactory(phone=PHONES[0])
    contact_opt_out(contact=opted_in, channel="whatsapp", reason="STOP")
    contact_opt_in(contact=opted_in, channel="whatsapp")
    stale = ContactFactory(phone=PHONES[1])
    consent_record(contact=stale, channel="sms", opted_in=True, method="import")  # another channel's opt-in
    campaign = whatsapp_campaign(manager)
    recipients.recipients_add(campaign=campaign, rows=[(phone, ["A", "B"]) for phone in PHONES[:3]])
    assert dict(campaign.recipients.values_list("phone", "status")) == {
        PHONES[0]: "pending", PHONES[1]: "skipped", PHONES[2]: "skipped"}
    assert set(campaign.recipients.filter(status="skipped").values_list("skip_reason", flat=True)) == {"no_opt_in"}
    run_to_end(started(campaign, manager))
    assert set(sent_numbers(fake_plivo)) == {PHONES[0]}

    utility = approved_template(name="order_update", category="UTILITY")
    utility_campaign = whatsapp_campaign(manager, phones=PHONES[1:3], template=utility)
    assert utility_campaign.recipients.filter(status="pending").count() == 2  # not marketing: no opt-in needed


# --- at most once -----------------------------------------------------------------------------------------
def test_a_batch_that_dies_midway_leaves_nothing_and_the_rerun_sends_each_once(manager, fake_plivo, any_hour):
    campaign = started(whatsapp_campaign(manager, phones=PHONES, rate_per_second=50), manager)
    written = []
    real_bulk_create = OutboundJob.objects.bulk_create

    def dies_after_writing(objs, *args, **kwargs):
        written.extend(real_bulk_create(objs, *args, **kwargs))
        raise RuntimeError("worker killed")  # messages and jobs written, the recipients' links not yet

    with time_machine.travel(datetime.now(dt_timezone.utc) + timedelta(seconds=5), tick=True):  # a full batch is due
        with mock.patch.object(OutboundJob.objects, "bulk_create", dies_after_writing), pytest.raises(RuntimeError):
            campaign_dispatch_batch(campaign_id=campaign.pk)
        assert len(written) == 4
        assert not Message.objects.filter(direction="outbound").exists()
        assert not OutboundJob.objects.exists()
        assert campaign.recipients.filter(status="pending").count() == 4
        run_to_end(campaign)
    assert sent_numbers(fake_plivo) == Counter({phone: 1 for phone in PHONES})


def test_pause_resume_and_repeated_dispatch_never_send_twice(manager, fake_plivo, any_hour):
    campaign = started(whatsapp_campaign(manager, phones=PHONES), manager)
    queued_before_pause = campaign_dispatch_batch(campaign_id=campaign.pk)
    lifecycle.campaign_pause(campaign=campaign, by=manager)  # withdraws what no worker claimed yet
    for _ in range(3):
        assert campaigns_dispatch() == 0
    lifecycle.campaign_resume(campaign=campaign, by=manager)
    run_to_end(campaign)
    for _ in range(3):
        campaigns_dispatch()
    assert sent_numbers(fake_plivo) == Counter({phone: 1 for phone in PHONES})
    withdrawn = Message.objects.filter(direction="outbound", outbound_job__state="withdrawn")
    assert withdrawn.count() == queued_before_pause and {m.status for m in withdrawn} == {"failed"}
    assert Message.objects.filter(direction="outbound").count() == 4 + queued_before_pause
    assert len({r.message_id for r in campaign.recipients.all()} - {None}) == 4


def test_stop_leaves_the_unsent_unsent(manager, fake_plivo, any_hour):
    campaign = started(whatsapp_campaign(manager, phones=PHONES, rate_per_second=0.5), manager)
    assert campaign_dispatch_batch(campaign_id=campaign.pk) == 1
    lifecycle.campaign_stop(campaign=campaign, by=manager)  # the one queued, not claimed yet, is withdrawn
    with time_machine.travel(datetime.now(dt_timezone.utc) + timedelta(minutes=5), tick=True):
        assert campaigns_dispatch() == 0
        drain()
    assert campaign.recipients.filter(status="pending").count() == 4
    assert not sent_numbers(fake_plivo)
    assert Message.objects.get(direction="outbound").outbound_job.state == "withdrawn"


def test_the_database_refuses_a_second_recipient_for_one_message(manager, any_hour):
    campaign = whatsapp_campaign(manager, phones=PHONES[:2])
    first, second = campaign.recipients.all()
    message = Message.objects.create(conversation=ContactFactory().conversations.create(channel="whatsapp"),
                                     direction="outbound", kind="template", status="queued")
    CampaignRecipient.objects.filter(pk=first.pk).update(status="queued", message=message, queued_at=message.created_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignRecipient.objects.filter(pk=second.pk).update(status="queued", message=message, queued_at=message.created_at)


def test_the_database_refuses_a_number_twice_in_one_campaign(manager):
    campaign = whatsapp_campaign(manager, phones=PHONES[:1])
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignRecipient.objects.create(campaign=campaign, phone=PHONES[0], parameters=["A", "B"])


# --- the rules at the moment of sending -------------------------------------------------------------------
def test_quiet_hours_hold_each_recipient_until_their_morning(manager, fake_plivo, settings):
    settings.CAMPAIGN_QUIET_HOURS = "08:00-21:00"
    los_angeles, new_york = "+14155552001", "+12125552002"
    # 13:30 UTC: 05:30 in Los Angeles, 08:30 in New York.
    with time_machine.travel(datetime(2026, 6, 1, 13, 30, tzinfo=dt_timezone.utc), tick=True):
        campaign = started(whatsapp_campaign(manager, phones=[los_angeles, new_york]), manager)
        for _ in range(5):
            campaigns_dispatch()
        waiting = campaign.recipients.get(phone=los_angeles)
        assert waiting.status == "pending"
        assert waiting.not_before == datetime(2026, 6, 1, 15, 0, tzinfo=dt_timezone.utc)  # 08:00 PDT
        assert campaign.recipients.get(phone=new_york).status == "queued"
        assert results.campaign_summary(campaign)["estimated_finish_at"] >= waiting.not_before
    with time_machine.travel(datetime(2026, 6, 1, 15, 0, 1, tzinfo=dt_timezone.utc), tick=True):
        assert run_to_end(campaign).status == "completed"
    assert set(sent_numbers(fake_plivo)) == {los_angeles, new_york}


def test_a_template_that_stops_being_approved_fails_the_campaign(manager, fake_plivo, any_hour):
    template = approved_template()
    campaign = started(whatsapp_campaign(manager, phones=PHONES, template=template, rate_per_second=0.5), manager)
    campaign_dispatch_batch(campaign_id=campaign.pk)
    template.status = "DISABLED"
    template.save()
    with time_machine.travel(datetime.now(dt_timezone.utc) + timedelta(minutes=5), tick=True):
        campaigns_dispatch()
    campaign.refresh_from_db()
    assert campaign.status == "failed" and "disabled" in campaign.failure_reason
    assert campaign.recipients.filter(status="pending").count() == 3


def test_queueing_keeps_to_the_campaigns_rate(manager, any_hour):
    campaign = started(whatsapp_campaign(manager, phones=[f"+1415555{2100 + n}" for n in range(20)], rate_per_second=2), manager)
    start = datetime.now(dt_timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        queued = [campaign_dispatch_batch(campaign_id=campaign.pk) for _ in range(3)]
        clock.move_to(start + timedelta(seconds=2))
        queued += [campaign_dispatch_batch(campaign_id=campaign.pk) for _ in range(3)]
    # One at the start; two seconds later the four they allow (catch-up capped at one second's worth + one).
    assert queued == [1, 0, 0, 3, 0, 0]


def test_a_batch_costs_the_same_queries_whatever_its_size(manager, any_hour):
    counts = []
    for size, first in ((3, 2400), (30, 2500)):  # (SQLite splits much larger inserts)
        campaign = started(whatsapp_campaign(manager, phones=[f"+1415555{first + n}" for n in range(size)],
                                             rate_per_second=50), manager)
        with time_machine.travel(datetime.now(dt_timezone.utc) + timedelta(seconds=5), tick=True):  # a full batch is due
            with CaptureQueriesContext(connection) as queries:
                assert campaign_dispatch_batch(campaign_id=campaign.pk) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_scheduled_campaigns_start_at_their_time(manager, fake_plivo, any_hour):
    at = datetime.now(dt_timezone.utc) + timedelta(hours=1)
    campaign = started(whatsapp_campaign(manager, phones=PHONES[:1], scheduled_at=at), manager)
    assert campaign.status == "scheduled" and campaigns_dispatch() == 0
    with time_machine.travel(at + timedelta(seconds=1), tick=True):
        assert run_to_end(campaign).status == "completed"


# --- results ---------------------------------------------------------------------------------------------
def test_recipient_results_follow_reports_and_replies(manager, fake_plivo, any_hour):
    campaign = run_to_end(started(whatsapp_campaign(manager, phones=PHONES), manager))
    by_phone = {r.phone: r.message for r in campaign.recipients.select_related("message")}
    status_report_apply(report=StatusReport(message_uuid=by_phone[PHONES[0]].plivo_message_uuid, status="delivered", sequence=3))
    status_report_apply(report=StatusReport(message_uuid=by_phone[PHONES[1]].plivo_message_uuid, status="read", sequence=4))
    status_report_apply(report=StatusReport(message_uuid=by_phone[PHONES[2]].plivo_message_uuid, status="failed", sequence=3,
                                            error_code="30"))
    message_receive(payload=InboundPayload(message_uuid="reply-1", from_number=PHONES[3], to_number="+14155550100",
                                           channel="whatsapp", plivo_type="whatsapp", kind="text", text="Interested!"))
    summary = results.campaign_summary(campaign)
    assert {k: v for k, v in summary["counts"].items() if v} == {"total": 4, "delivered": 1, "read": 1, "failed": 1, "replied": 1}
    assert summary["delivery_rate"] == 0.75 and summary["read_rate"] == 0.5
    failed = results.recipient_list(campaign, status="failed")[0]
    assert failed.phone == PHONES[2] and results.recipient_error(failed)


def test_a_reply_after_72_hours_is_not_counted(manager, fake_plivo, any_hour):
    campaign = run_to_end(started(whatsapp_campaign(manager, phones=PHONES[:1]), manager))
    with time_machine.travel(datetime.now(dt_timezone.utc) + timedelta(hours=73)):
        message_receive(payload=InboundPayload(message_uuid="late-1", from_number=PHONES[0], to_number="+14155550100",
                                               channel="whatsapp", plivo_type="whatsapp", kind="text", text="hi"))
    assert results.campaign_counts(campaign)["replied"] == 0


def test_an_answer_to_a_message_that_failed_is_not_a_reply_and_a_second_answer_counts_once(manager, fake_plivo, any_hour):
    campaign = run_to_end(started(whatsapp_campaign(manager, phones=PHONES[:2]), manager))
    failed, answered = (campaign.recipients.get(phone=phone).message for phone in PHONES[:2])
    status_report_apply(report=StatusReport(message_uuid=failed.plivo_message_uuid, status="failed", sequence=3, error_code="30"))
    for n, phone in enumerate([PHONES[0], PHONES[1], PHONES[1]]):
        message_receive(payload=InboundPayload(message_uuid=f"answer-{n}", from_number=phone, to_number="+14155550100",
                                               channel="whatsapp", plivo_type="whatsapp", kind="text", text="hello?"))
    counts = results.campaign_counts(campaign)
    assert (counts["failed"], counts["replied"]) == (1, 1)
    first_answer = Message.objects.get(plivo_message_uuid="answer-1").created_at
    assert campaign.recipients.get(phone=PHONES[1]).replied_at == first_answer


def test_progress_is_pushed_when_the_figures_change(manager, fake_plivo, any_hour):
    dispatch._progress_sent.clear()
    campaign = started(whatsapp_campaign(manager, phones=PHONES), manager)
    assert campaigns_progress_broadcast() == 1
    assert campaigns_progress_broadcast() == 0  # nothing changed
    run_to_end(campaign)  # the worker's own progress chore pushes the last figures
    campaigns_progress_broadcast()
    assert campaigns_progress_broadcast() == 0
    event = InboxEvent.objects.filter(type="campaign.updated").last()
    assert event.data["campaign"]["id"] == campaign.pk and event.data["campaign"]["status"] == "completed"
    assert event.data["campaign"]["counts"]["sent"] == 4 and event.data["campaign"]["progress"] == 1.0


def test_a_malformed_quiet_hours_setting_stops_the_start(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.CAMPAIGN_QUIET_HOURS = "21:00-08:00"
    with pytest.raises(SystemCheckError, match="CAMPAIGN_QUIET_HOURS"):
        call_command("check")


def test_a_number_whose_zones_are_unknown_uses_the_country_then_the_servers_zone():
    from conversations.campaigns.rules import number_time_zones

    assert [zone.key for zone in number_time_zones("+14155552001")] == ["America/Los_Angeles"]
    assert "Europe/London" in [zone.key for zone in number_time_zones("+447700900123")]


def test_erasing_a_contact_takes_them_out_of_every_campaign(manager, staff, any_hour):
    from conversations.privacy.erase import contact_erase

    campaign = whatsapp_campaign(manager, phones=PHONES[:2])
    contact = ContactFactory(phone=PHONES[0])
    contact_erase(contact=contact, by=staff, reason="their request")
    erased = campaign.recipients.exclude(phone=PHONES[1]).get()
    assert erased.phone.startswith("+999") and erased.parameters == []
    assert (erased.status, erased.skip_reason) == ("skipped", "opted_out")


def test_an_until_idle_worker_is_not_idle_while_a_campaign_has_recipients_due(manager, fake_plivo, any_hour):
    from conversations.tests.outbound_support import drain

    campaign = started(whatsapp_campaign(manager, phones=PHONES, rate_per_second=20), manager)
    drain()  # one run of the worker, until it is idle: the whole campaign
    assert sent_numbers(fake_plivo) == Counter({phone: 1 for phone in PHONES})
    campaign.refresh_from_db()
    assert campaign.recipients.filter(status="pending").count() == 0
