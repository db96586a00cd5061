"""Delivery reports for our sends, from Plivo's status webhook: a state machine in raw SQL.

Reports arrive at least once and in any order. A duplicate is stopped by the unique
constraint on `MessageStatusEvent.dedupe_key`, and a message's status only moves forward in
the UPDATE statement itself, so concurrent or reordered reports cannot regress it.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from conversations import events
from conversations.models import (
    ConsentRecord,
    FINAL_FAILURE_STATUSES,
    STATUS_RANK,
    Message,
    MessageStatus,
    MessageStatusEvent,
)
from conversations.outbound.jobs import send_report_received
from conversations.plivo_errors import ERROR_UNCONFIRMED, OPTED_OUT_ERROR_CODE, error_name, explain_error_code
from conversations.reports.rollups import report_mark_message
from conversations.services.contacts import contact_opt_out
from conversations.sql import copy_columns, db_datetime, execute, insert_row, table, update_returning
from conversations.sql_reads import message_with_event_relations

logger = logging.getLogger(__name__)

# Plivo's callback statuses; another is kept in the history but changes nothing. Plivo's
# `queued` means Plivo accepted the send: our `sending`, never above `sent`.
REPORT_STATUS_TO_MESSAGE_STATUS = {
    "queued": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
    "rejected": MessageStatus.REJECTED,
}
# Keeps our advisory locks on uuids apart from anyone else's ("PLV").
PARKED_REPORT_LOCK_NAMESPACE = 0x504C56
# Plivo's own time of a report is trusted within these bounds of when it reached us.
REPORT_TIME_MAX_AGE = timedelta(days=3)
REPORT_CLOCK_SKEW = timedelta(minutes=5)
STATUS_TIMESTAMP_FIELD = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
    MessageStatus.UNDELIVERED: "failed_at",
    MessageStatus.REJECTED: "failed_at",
}


def status_report_apply(*, report, received_at=None, batch: events.BroadcastBatch | None = None) -> None:
    """Record one delivery report (a `webhooks.payloads.StatusReport`) and apply it.

    `received_at` is when Plivo delivered it (default: now): the sent, delivered and read
    times shown to agents are those of the reports, however long they waited to be applied.
    Its events go out with `batch` when given (the webhook worker's).

    Matched by MessageUUID, else by our `ref` (whose message then gets the uuid), else parked
    with `message=None` until `status_events_attach` sees the uuid. A duplicate report
    stores and publishes nothing.
    """
    with transaction.atomic(savepoint=False):  # the webhook worker gives each receipt a savepoint
        message = _message_by_uuid(report.message_uuid)
        claimed = history_only = False
        if message is None:
            # Serialise with `status_events_attach` for this uuid, so a report parked while the
            # send's response is being stored cannot be missed by both sides.
            uuid_lock(report.message_uuid)
            message = _message_by_uuid(report.message_uuid)
            if message is None and report.ref is not None:
                message, claimed = _message_for_ref(ref=report.ref, uuid=report.message_uuid)
                history_only = message is not None and not claimed

        event = _status_event_store(report, message=None if claimed else message, received_at=received_at)
        if event is None:  # Plivo retried a report we already have
            return
        if message is None:
            logger.info("parked %s report for unknown message %s (ref=%s)", report.status, report.message_uuid, report.ref)
            return
        if history_only:
            return
        if claimed:
            # Our report and any that arrived before it without a ref, applied together.
            status_events_attach(message=message, batch=batch)
            return

        change = _status_event_apply(message=message, event=event, batch=batch)
        if change.visible:
            _status_change_publish(message=message, status_moved=change.status_moved, batch=batch)


def status_events_attach(*, message: Message, batch: events.BroadcastBatch | None = None) -> bool:
    """Apply the parked delivery reports for `message.plivo_message_uuid`, if any.

    Safe to call at any time and more than once (a report is attached once); call it right
    after a send's uuid is stored. Returns whether the message visibly changed.
    """
    uuid = message.plivo_message_uuid
    if not uuid:
        return False
    with transaction.atomic():
        uuid_lock(uuid)
        parked = list(
            MessageStatusEvent.objects.select_for_update().filter(message__isnull=True, plivo_message_uuid=uuid)
        )
        if not parked:
            return False
        MessageStatusEvent.objects.filter(pk__in=[event.pk for event in parked], message__isnull=True).update(message=message)
        message = message_with_event_relations(pk=message.pk)
        visible = status_moved = False
        for event in sorted(parked, key=_report_order):
            change = _status_event_apply(message=message, event=event, batch=batch)
            visible |= change.visible
            status_moved |= change.status_moved
        if visible:
            _status_change_publish(message=message, status_moved=status_moved, batch=batch)
        return visible


def _report_order(event: MessageStatusEvent):
    status = REPORT_STATUS_TO_MESSAGE_STATUS.get(event.status)
    return (STATUS_RANK.get(status, -1), -1 if event.sequence is None else event.sequence, event.received_at, event.pk)


def _message_by_uuid(uuid: str) -> Message | None:
    return message_with_event_relations(plivo_uuid=uuid)


def uuid_lock(uuid: str) -> None:
    """A transaction-scoped lock on one Plivo uuid (SQLite already serialises writers).

    Lock order: this lock first, then the message row. (The send path stores a uuid without
    it; a report it parked meanwhile is attached by the webhook worker's chore.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [PARKED_REPORT_LOCK_NAMESPACE, uuid])


def _message_for_ref(*, ref: int, uuid: str) -> tuple[Message | None, bool]:
    """(message, claimed) for a report naming our outbound message `ref` but an unknown uuid.

    claimed: the send's response was not stored yet, so the message now gets `uuid`.
    Not claimed: the report belongs to an earlier send of a message that was retried (or
    names a ref sent under another uuid); it is kept in that message's history only.
    """
    message = message_with_event_relations(pk=ref)
    if message is None or not message.is_outbound:
        logger.warning("report for %s names ref %s, which is not one of our sends", uuid, ref)
        return None, False
    earlier_send = MessageStatusEvent.objects.filter(message=message, plivo_message_uuid=uuid).exists()
    if message.plivo_message_uuid is None and not earlier_send:
        try:
            with transaction.atomic():
                Message.objects.filter(pk=message.pk, plivo_message_uuid__isnull=True).update(plivo_message_uuid=uuid)
        except IntegrityError:  # the uuid belongs to another message: trust the uuid, not the ref
            logger.warning("report for %s names ref %s, but another message has that uuid", uuid, ref)
            return None, False
        message.refresh_from_db(fields=["plivo_message_uuid"])
        if message.plivo_message_uuid == uuid:
            return message, True
    logger.info("report for %s kept in the history of message %s, now sent as %s", uuid, ref, message.plivo_message_uuid)
    return message, False


def _status_event_store(report, *, message: Message | None, received_at=None) -> MessageStatusEvent | None:
    """The stored report, or None when Plivo retried one we already have."""
    received_at = received_at or timezone.now()
    occurred_at = report.occurred_at
    if occurred_at is not None and not received_at - REPORT_TIME_MAX_AGE <= occurred_at <= received_at + REPORT_CLOCK_SKEW:
        occurred_at = None  # a clock far off: our own reception time is the better guess
    event = MessageStatusEvent(
        received_at=received_at,
        occurred_at=min(occurred_at, received_at) if occurred_at else None,
        message=message,
        plivo_message_uuid=report.message_uuid,
        status=report.status,
        sequence=report.sequence,
        error_code=report.error_code,
        raw_payload=report.raw,
        dedupe_key=MessageStatusEvent.make_dedupe_key(report.message_uuid, report.status, report.sequence),
    )
    return event if insert_row(event, unless_conflict_on="(dedupe_key)") else None


@dataclass(frozen=True)
class _Change:
    status_moved: bool = False
    visible: bool = False


def _status_event_apply(*, message: Message, event: MessageStatusEvent, batch) -> _Change:
    """Apply one stored report to its message (refreshed in place). The caller publishes."""
    if not message.is_outbound:
        return _Change()
    now = db_datetime(timezone.now())
    new_status = REPORT_STATUS_TO_MESSAGE_STATUS.get(event.status)
    timestamp_field = STATUS_TIMESTAMP_FIELD.get(new_status)
    is_failure = new_status in FINAL_FAILURE_STATUSES
    # Only a guess can be overturned: "may not have been sent" after no answer from Plivo.
    unconfirmed_failure, unconfirmed_failure_params = "(status = %s AND error_code = %s)", [MessageStatus.FAILED.value, ERROR_UNCONFIRMED]

    moved = None
    if new_status is not None:
        # status_sequence is the Sequence of the report that set the current status (or NULL).
        assignments = ["status = %s", "status_sequence = %s", "unconfirmed_since = NULL", "updated_at = %s"]
        params = [new_status.value, event.sequence, now]
        if timestamp_field:
            assignments.append(f"{timestamp_field} = COALESCE({timestamp_field}, %s)")
            params.append(db_datetime(event.occurred_at or event.received_at))
        if is_failure:
            assignments += ["error_code = %s", "error_message = %s"]
            params += [event.error_code, explain_error_code(event.error_code)]
        else:
            assignments += ["error_code = ''", "error_message = ''", f"failed_at = CASE WHEN {unconfirmed_failure} THEN NULL ELSE failed_at END"]
            params += unconfirmed_failure_params
        # Forward only, decided in the UPDATE itself so concurrent reports cannot regress it.
        forward = f"id = %s AND (status_rank < %s OR {unconfirmed_failure})"
        params += [message.pk, STATUS_RANK[new_status], *unconfirmed_failure_params]
        if event.sequence is not None:
            forward += " AND (status_sequence IS NULL OR status_sequence <= %s)"
            params.append(event.sequence)
        moved = update_returning(Message, assignments=", ".join(assignments), where=forward, params=params)

    touched = None
    if moved:
        execute(f"UPDATE {table(MessageStatusEvent)} SET applied = %s WHERE id = %s", [True, event.pk])
        report_mark_message(message.pk)  # reports (issue 16)
    else:
        # A late report does not change the status, but it still proves Plivo has the message
        # and tells when that step happened.
        unconfirmed_note = "(error_code = %s AND status_rank < %s)"
        note_params = [ERROR_UNCONFIRMED, STATUS_RANK[MessageStatus.FAILED]]
        assignments = [
            "unconfirmed_since = NULL",
            "updated_at = %s",
            f"error_code = CASE WHEN {unconfirmed_note} THEN '' ELSE error_code END",
            f"error_message = CASE WHEN {unconfirmed_note} THEN '' ELSE error_message END",
        ]
        params = [now, *note_params, *note_params]
        stale = f"unconfirmed_since IS NOT NULL OR {unconfirmed_note}"
        stale_params = list(note_params)
        if timestamp_field:
            assignments.append(f"{timestamp_field} = COALESCE({timestamp_field}, %s)")
            params.append(db_datetime(event.occurred_at or event.received_at))
            stale += f" OR {timestamp_field} IS NULL"
        touched = update_returning(
            Message, assignments=", ".join(assignments), where=f"id = %s AND ({stale})", params=[*params, message.pk, *stale_params]
        )

    send_report_received(message_id=message.pk, status=new_status, error_code=event.error_code)
    if moved or touched:
        copy_columns(source=moved or touched, target=message)
    if is_failure and event.error_code == OPTED_OUT_ERROR_CODE:
        contact_opt_out(
            contact=message.conversation.contact,
            channel=message.conversation.channel,
            reason=f"Plivo error {OPTED_OUT_ERROR_CODE}: {error_name(OPTED_OUT_ERROR_CODE)}",
            method=ConsentRecord.Method.ERROR_200,
            batch=batch,
        )
    return _Change(status_moved=bool(moved), visible=bool(moved or touched))


def _status_change_publish(*, message: Message, status_moved: bool, batch) -> None:
    """Announce a message whose status or timestamps changed (loaded by
    `message_with_event_relations`, refreshed by `_status_event_apply`)."""
    conversation = message.conversation
    if status_moved and conversation.last_message_id == message.pk:
        # The inbox list shows the last message's status: its conversation changed too.
        conversation.last_message = message
        events.broadcast_on_commit(
            events.message_updated_event(message), events.conversation_updated_event(conversation), batch=batch
        )
    else:
        events.broadcast_on_commit(events.message_updated_event(message), batch=batch)
