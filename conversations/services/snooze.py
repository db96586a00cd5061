"""Snoozing: a conversation leaves Open until a time, or until the customer writes.

An agent snoozes through `conversation_update(status="snoozed", snoozed_until=...)`. It wakes
(open again, with a `woke` entry in the thread) when `conversations_wake_snoozed()`, a chore of
the outbound worker's loop, finds it due, or at once when the customer writes (the inbound
update in `conversation_record_message`).
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.models import Conversation
from conversations.services.thread_entries import activity_record
from messaging_site.errors import ApplicationError

logger = logging.getLogger(__name__)

SNOOZE_AT_MOST = timedelta(days=366)


def snooze_time_check(until) -> None:
    if until is None:
        raise ApplicationError(
            'Say until when: "snoozed_until" (ISO 8601, e.g. "2030-01-07T09:00:00+01:00").',
            field="snoozed_until", code="required", status=400,
        )
    now = timezone.now()
    if until <= now:
        raise ApplicationError("A snooze ends in the future; that time has passed.", field="snoozed_until",
                               code="in_the_past", status=400)
    if until > now + SNOOZE_AT_MOST:
        raise ApplicationError("A snooze lasts at most a year.", field="snoozed_until", code="too_far", status=400)


def snooze_activity_text(*, by: str, until) -> str:
    """"Snoozed by Alice until Tue 09:00" in the server's time zone (the inbox shows the time in
    the agent's own, from the entry's `until`)."""
    local = timezone.localtime(until)
    days_ahead = (local.date() - timezone.localdate()).days
    when = f"{local:%a %H:%M}" if 0 <= days_ahead < 6 else f"{local:%a} {local.day} {local:%b %H:%M}"
    return f"Snoozed by {by} until {when}"


def conversations_wake_snoozed(*, limit: int = 200) -> int:
    """Reopen conversations whose snooze has ended, each with a `woke` entry in its thread.
    Safe to run from any number of workers at once. Returns how many woke."""
    now = timezone.now()
    due = list(
        Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until")
        .values_list("pk", flat=True)[:limit]
    )
    woke = 0
    for pk in due:
        with transaction.atomic():
            # Conditional: an agent, the customer or another worker may have ended it since.
            if not Conversation.objects.filter(
                pk=pk, status=Conversation.Status.SNOOZED, snoozed_until__lte=now
            ).update(status=Conversation.Status.OPEN, snoozed_until=None, updated_at=timezone.now()):
                continue
            conversation = Conversation.objects.select_related("contact", "assignee", "last_message").get(pk=pk)
            events.broadcast_on_commit(events.conversation_updated_event(conversation))
            activity_record(conversation=conversation, actor=None, action="woke", text="Woke from snooze",
                            details={"reason": "time"})
            woke += 1
    if woke:
        logger.info("woke %d snoozed conversations", woke)
    return woke
