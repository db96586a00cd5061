"""The single place inbox events come from: a builder (`message_created_event`, ...) makes an
event, `broadcast_on_commit` logs and pushes it.

Each event is written to `InboxEvent` inside the caller's transaction (its id is the cursor a
reconnecting page resumes from) and pushed to every agent socket after commit. Payloads are
serialized now, before commit, so they describe exactly what was committed. Every agent
socket, including the tab that caused a change, gets every event: the browser has one
update path.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from conversations import serializers
from conversations.models import InboxEvent, InboxEventPruning
from conversations.sql import insert_row

logger = logging.getLogger(__name__)

INBOX_GROUP = "inbox"
MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_UPDATED = "conversation.updated"
CONTACT_UPDATED = "contact.updated"
NOTIFICATION_CREATED = "notification.created"
NOTIFICATIONS_READ = "notifications.read"
LABELS_CHANGED = "labels.changed"


def user_group(user_id: int) -> str:
    """Every socket of one user, so logout or deactivation can close them all."""
    return f"user.{user_id}"


Event = tuple[str, dict]  # (type, data), as a builder below makes it


def broadcast_on_commit(*events: Event, batch: BroadcastBatch | None = None) -> list[InboxEvent]:
    """Log the events of one change, in order, and push them to every agent socket once the
    transaction commits: in one channel-layer message, or in `batch`'s.

    Each change registers its own commit hook, so the events of a change rolled back to a
    savepoint are dropped with it, also from a batch.
    """
    logged = [InboxEvent(type=event_type, data=data) for event_type, data in events]
    if len(logged) > 1:
        InboxEvent.objects.bulk_create(logged)  # a bulk send's batch: one statement (ids in order)
    else:
        for event in logged:
            insert_row(event)
    wire_events = [event.as_wire() for event in logged]
    if batch is None:
        transaction.on_commit(lambda: _push(wire_events))
    else:
        batch.add_on_commit(wire_events)
    return logged


class BroadcastBatch:
    """The events of many changes in one transaction (the webhook worker's batch of receipts),
    pushed in one channel-layer message after it commits. Pass it as `batch=` to each change,
    then call `send_on_commit()` last, inside the transaction."""

    def __init__(self):
        self._wire_events: list[dict] = []
        self._changes = 0

    def add_on_commit(self, wire_events: list[dict]) -> None:
        self._changes += 1
        transaction.on_commit(lambda: self._wire_events.extend(wire_events))

    def send_on_commit(self) -> None:
        # Commit hooks run in the order they were registered: this one after every change's.
        if self._changes:
            transaction.on_commit(self._send)

    def _send(self) -> None:
        if self._wire_events:  # empty when every change was rolled back to its savepoint
            _push(self._wire_events)


def _push(wire_events: list[dict]) -> None:
    group_send(INBOX_GROUP, {"type": "inbox.events", "events": wire_events})


def user_push(user_id: int, event: Event) -> None:
    """Push `event` to one user's sockets only (a notification), with no cursor: it is not in
    the log every agent replays. Call after commit; the page refetches after a reconnect."""
    event_type, data = event
    group_send(user_group(user_id), {"type": "user.event", "event": {"type": event_type, "payload": data}})


def group_send(group: str, message: dict) -> None:
    """Best effort: the data is already committed and a reconnecting page catches up from
    the event log, so a channel-layer outage must not fail the request that caused it."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:
        logger.exception("could not push %s to group %s", message.get("type"), group)


@functools.cache
def _serializer(name: str):
    """One instance per output serializer: DRF builds a serializer's fields per instance,
    which cost more than the serializing itself on the webhook hot path."""
    return getattr(serializers, name)()


def _represent(name: str, instance) -> dict:
    return _serializer(name).to_representation(instance)


def message_created_event(message) -> Event:
    return MESSAGE_CREATED, {
        "message": _represent("MessageSerializer", message),
        "conversation": _represent("ConversationSerializer", message.conversation),
    }


def message_updated_event(message) -> Event:
    return MESSAGE_UPDATED, {"message": _represent("MessageSerializer", message)}


def conversation_updated_event(conversation) -> Event:
    return CONVERSATION_UPDATED, {"conversation": _represent("ConversationSerializer", conversation)}


def contact_updated_event(contact) -> Event:
    return CONTACT_UPDATED, {"contact": _represent("ContactSerializer", contact)}


def labels_changed_event(*, label, previous_name: str = "") -> Event:
    """Staff renamed, recoloured, added (`previous_name` empty) or deleted (`label` None) a label:
    pages update their chips without refetching every conversation that carries it."""
    return LABELS_CHANGED, {
        "label": None if label is None else {"name": label.name, "colour": label.colour},
        "previous_name": previous_name,
    }


def notification_created_event(notification, *, unread_count: int) -> Event:
    return NOTIFICATION_CREATED, {
        "notification": _represent("NotificationSerializer", notification),
        "unread_count": unread_count,
    }


def notifications_read_event(*, ids: list[int] | None, unread_count: int) -> Event:
    """`ids` None: all of them."""
    return NOTIFICATIONS_READ, {"ids": ids, "all": ids is None, "unread_count": unread_count}


def inbox_events_prune(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete log entries older than `older_than`, in batches, always keeping the newest (the
    cursor new pages start from), and record how far the log is now cut, so a page whose
    cursor falls before that reloads (`selectors.inbox_events_after`). Returns how many were
    deleted."""
    newest = InboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
    if newest is None:
        return 0
    old = InboxEvent.objects.filter(created_at__lt=timezone.now() - older_than, id__lt=newest)
    deleted = 0
    while ids := list(old.order_by("id").values_list("id", flat=True)[:batch]):
        with transaction.atomic():  # the gap and its mark become visible together
            InboxEventPruning.objects.create(pruned_through=ids[-1], deleted=len(ids))
            deleted += InboxEvent.objects.filter(id__in=ids).delete()[0]
    return deleted


def close_user_sockets(user_id: int, reason: str) -> None:
    """Ask every open socket of `user_id` to close (logout, deactivation, lost agent role)."""
    transaction.on_commit(lambda: group_send(user_group(user_id), {"type": "session.revoked", "reason": reason}))
