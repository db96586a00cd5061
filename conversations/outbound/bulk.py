"""Bulk queueing: many messages (a campaign's batch) into the one send path at once.

`messages_queue_bulk()` makes the checks `message_send()` makes for each message (destination,
erasure and the suppression list, opt-out, WhatsApp's window, the content rules of content.py,
templates approved and their parameters) and writes every message it accepts with its
`OutboundJob` in ONE transaction, in a fixed number of statements whatever the batch's size:
one template look-up for the batch, bulk inserts of messages, jobs and report markers, one
update of the conversations' activity markers, one write of their inbox events (pushed to the
agents' sockets in one message after commit). A message it refuses comes back with the
`ApplicationError` `message_send()` would have raised; nothing of it is stored.

The caller's own bookkeeping (a campaign recipient's link to its message) goes in `within`,
called inside that transaction: the link commits with the message, or neither does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from conversations import events
from conversations.models import Conversation, Message, MessageStatus, OutboundJob
from conversations.outbound.content import content_prepare
from conversations.outbound.service import opted_out_error, window_closed_error
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.privacy.models import SuppressedNumber
from conversations.privacy.suppression import number_hash, send_refuse_if_suppressed
from conversations.reports.models import ReportPending
from conversations.selectors.labels import with_label_summaries
from conversations.sql import case_by_id, db_datetime, table
from messaging_site.errors import ApplicationError


@dataclass
class BulkMessage:
    """One message of a bulk send: to an existing conversation, text or an approved template
    (bulk sends carry no uploaded attachments). `key` is the caller's handle for it."""

    key: Hashable
    conversation_id: int
    kind: str
    text: str = ""
    template: dict | None = None


@dataclass
class BulkQueued:
    messages: dict = field(default_factory=dict)  # key -> the queued Message
    refusals: dict = field(default_factory=dict)  # key -> the ApplicationError saying why not


def messages_queue_bulk(
    *,
    items: list[BulkMessage],
    priority: int = OutboundJob.Priority.BULK,
    within: Callable[[dict], None] | None = None,
) -> BulkQueued:
    """Check and queue `items` in one transaction; `within(messages)` (key -> Message) runs
    inside it, after the messages and jobs are written. Returns what was queued and what was
    refused (per key)."""
    result = BulkQueued()
    with transaction.atomic():
        threads = _conversations_now(items)
        suppressed = _suppressed(threads.values())
        templates: dict = {}  # one look-up per template for the whole batch
        accepted = []
        for item in items:
            try:
                conversation = threads.get(item.conversation_id)
                if conversation is None:
                    raise ApplicationError("That conversation does not exist.", code="not_found", field="conversation")
                _check_sendable(conversation, kind=item.kind, suppressed=suppressed)
                content = content_prepare(channel=conversation.channel, kind=item.kind, text=item.text,
                                          template=item.template, templates=templates)
            except ApplicationError as exc:
                result.refusals[item.key] = exc
                continue
            accepted.append((item.key, conversation, content))
        if not accepted:
            return result
        now = timezone.now()
        messages = Message.objects.bulk_create([
            Message(conversation=conversation, direction=Message.Direction.OUTBOUND, kind=content.kind, text=content.text,
                    media=content.media, structured=content.structured, status=MessageStatus.QUEUED,
                    created_at=now, updated_at=now)
            for _, conversation, content in accepted
        ])
        OutboundJob.objects.bulk_create([OutboundJob(message=message, next_attempt_at=now, priority=priority)
                                         for message in messages])
        _activity_record(messages, now=now)
        result.messages = {key: message for (key, _, _), message in zip(accepted, messages)}
        if within is not None:
            within(result.messages)
        events.broadcast_on_commit(*(events.message_created_event(message) for message in messages))
    return result


def _conversations_now(items: list[BulkMessage]) -> dict[int, Conversation]:
    """The conversations of `items` with their contacts as they are now (consent is checked at
    the moment of queueing), with what their inbox event shows: one query."""
    ids = {item.conversation_id for item in items}
    found = with_label_summaries(Conversation.objects.select_related("contact", "assignee").filter(pk__in=ids))
    return {conversation.pk: conversation for conversation in found}


def _suppressed(conversations) -> set[tuple[str, str]]:
    """(number hash, channel) of the numbers among `conversations` on the suppression list."""
    hashes = {number_hash(conversation.contact.phone) for conversation in conversations}
    return set(SuppressedNumber.objects.filter(number_hash__in=hashes).values_list("number_hash", "channel"))


def _check_sendable(conversation: Conversation, *, kind: str, suppressed: set) -> None:
    """`message_send()`'s checks of the destination and consent, on data read for the batch."""
    contact, channel = conversation.contact, conversation.channel
    try:
        if normalize_phone(contact.phone, strict=True) != contact.phone:
            raise InvalidPhoneNumber("not in E.164")
    except InvalidPhoneNumber as exc:
        raise ApplicationError(f"{exc} ({contact.phone!r})", code="invalid_phone", field="to") from None
    if contact.phone in (settings.PLIVO_WHATSAPP_NUMBER, settings.PLIVO_SMS_NUMBER):
        raise ApplicationError("That is one of Parley's own numbers.", code="invalid_phone", field="to")
    if contact.erased_at is not None or (number_hash(contact.phone), channel) in suppressed:
        send_refuse_if_suppressed(contact=contact, channel=channel)  # raises, with the privacy rules' wording
    if contact.is_opted_out(channel):
        raise opted_out_error(contact, conversation)
    if kind != "template" and not conversation.window_is_open():
        raise window_closed_error()


def _activity_record(messages: list[Message], *, now) -> None:
    """What `conversation_record_message()` does for an outbound message, for the whole batch
    in two statements: each thread's last message moves (forward only) to its new one, and the
    report rollups are told the threads changed."""
    last_of = {message.conversation_id: message for message in messages}
    last_message, params = case_by_id({pk: message.pk for pk, message in last_of.items()})
    ids = ", ".join(["%s"] * len(last_of))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table(Conversation)} SET last_message_id = {last_message}, last_message_at = %s, "
                       f"updated_at = %s WHERE id IN ({ids}) AND (last_message_at IS NULL OR last_message_at <= %s)",
                       [*params, db_datetime(now), db_datetime(now), *last_of, db_datetime(now)])
    for message in messages:
        conversation = message.conversation
        if conversation.last_message_at is None or conversation.last_message_at <= now:
            conversation.last_message_id, conversation.last_message_at, conversation.updated_at = message.pk, now, now
            conversation.last_message = message
    ReportPending.objects.bulk_create([ReportPending(conversation_id=pk, at=now) for pk in last_of])
