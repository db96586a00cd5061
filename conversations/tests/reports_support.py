"""Known traffic for the report tests: customers writing, agents replying, delivery reports and
status changes, each at a controlled moment and through the services the webhooks and the API use."""

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.db.models import Min

from conversations.models import Conversation, Message, OutboundJob, ReportSettings
from conversations.outbound.service import message_send
from conversations.services.conversations import conversation_update
from conversations.services.delivery_reports import status_report_apply
from conversations.services.inbound import message_receive
from conversations.services.thread_entries import note_add
from webhooks.payloads import InboundPayload, StatusReport

NEW_YORK = ZoneInfo("America/New_York")
_uuids = itertools.count(1)


def team_settings(zone: str = "America/New_York", hours: dict | None = None) -> ReportSettings:
    found = ReportSettings(time_zone=zone)
    if hours is not None:
        found.business_hours = hours
    found.full_clean()
    found.save()
    return found


def local(text: str, zone=NEW_YORK) -> datetime:
    """'2026-03-07 14:00' on the wall clocks of `zone`, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def customer_writes(phone: str, at: datetime, *, channel: str = "whatsapp", text: str = "Hello?") -> Message:
    payload = InboundPayload(message_uuid=f"in-{next(_uuids)}", from_number=phone, to_number="+14155550100",
                             channel=channel, plivo_type=channel, kind="text", text=text)
    with time_machine.travel(at, tick=False):
        return message_receive(payload=payload, received_at=at)[0]


def conversation_of(phone: str, channel: str = "whatsapp") -> Conversation:
    return Conversation.objects.get(contact__phone=phone, channel=channel)


def agent_replies(agent, phone: str, at: datetime, *, channel: str = "whatsapp", text: str = "On it!") -> Message:
    with time_machine.travel(at, tick=False):
        return message_send(kind="text", conversation=conversation_of(phone, channel), sent_by=agent, text=text)[0]


def agent_notes(agent, phone: str, at: datetime, *, channel: str = "whatsapp") -> Message:
    with time_machine.travel(at, tick=False):
        return note_add(conversation=conversation_of(phone, channel), author=agent, text="Checking with the warehouse")


def plivo_reports(message: Message, status: str, at: datetime, *, error_code: str = "") -> None:
    """A delivery report for `message` (given a Plivo uuid first, as an accepted send has)."""
    if not message.plivo_message_uuid:
        message.plivo_message_uuid = f"out-{message.pk}"
        Message.objects.filter(pk=message.pk).update(plivo_message_uuid=message.plivo_message_uuid, status="sent")
        OutboundJob.objects.filter(message=message).update(state=OutboundJob.State.ACCEPTED)
    report = StatusReport(message_uuid=message.plivo_message_uuid, status=status, sequence=next(_uuids),
                          error_code=error_code)
    with time_machine.travel(at, tick=False):
        status_report_apply(report=report, received_at=at)


def status_set(agent, phone: str, status: str, at: datetime, *, channel: str = "whatsapp") -> None:
    with time_machine.travel(at, tick=False):
        conversation_update(conversation=conversation_of(phone, channel), by=agent, status=status)


def assign(agent, phone: str, assignee, at: datetime, *, channel: str = "whatsapp") -> None:
    with time_machine.travel(at, tick=False):
        conversation_update(conversation=conversation_of(phone, channel), by=agent,
                            assignee_id=assignee.pk if assignee else None)


def direct_counts(*, date_from, date_to, zone=NEW_YORK, channel=None, agent=None, label=None) -> dict:
    """The report's message and conversation counts straight from the raw rows, for comparison."""
    from django.db.models import Q

    from conversations.reports.hours import day_bounds

    start, end = day_bounds(date_from, zone)[0], day_bounds(date_to, zone)[1]
    where = Q(created_at__gte=start, created_at__lt=end)
    if channel:
        where &= Q(conversation__channel=channel)
    if label:
        where &= Q(conversation__labels=label)
    inbound = Message.objects.filter(where, direction="inbound")
    outbound = Message.objects.filter(where, direction="outbound").exclude(outbound_job__state="withdrawn")
    if agent:
        inbound, outbound = inbound.filter(conversation__assignee=agent), outbound.filter(sent_by=agent)
    counts = {
        "messages_received": inbound.count(),
        "messages_sent": outbound.count(),
        "messages_delivered": outbound.filter(status__in=["delivered", "read"]).count(),
        "messages_read": outbound.filter(status="read").count(),
        "messages_failed": outbound.filter(status__in=["failed", "undelivered", "rejected"]).count(),
    }
    if agent is None:
        status_entries = Message.objects.filter(where, kind="activity", structured__activity__action="status")
        # Every conversation here opens with a customer's message; each later episode with a reopening.
        first_messages = [conversation_id for conversation_id, first_at in
                          Message.objects.filter(direction="inbound").values_list("conversation_id")
                          .annotate(first_at=Min("created_at")).values_list("conversation_id", "first_at")
                          if start <= first_at < end]
        opened_first = Conversation.objects.filter(pk__in=first_messages)
        if channel:
            opened_first = opened_first.filter(channel=channel)
        if label:
            opened_first = opened_first.filter(labels=label)
        counts["conversations_opened"] = opened_first.count() + status_entries.filter(structured__activity__status="open").count()
        counts["conversations_resolved"] = status_entries.filter(structured__activity__status="resolved").count()
    return counts
