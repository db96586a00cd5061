"""Known traffic for the report tests: customers writing, agents replying, delivery reports and
status changes, each at a controlled moment and through the services the webhooks and the API use."""

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from conversations.models import Conversation, Message, ReportSettings
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
