"""The single place inbox events come from.

Each event is written to `InboxEvent` inside the caller's transaction (its id is the cursor a
reconnecting page resumes from) and pushed to every agent socket after commit. Payloads are
serialized now, before commit, so they describe exactly what was committed. Every agent
socket, including the tab that caused a change, gets every event: the browser has one
update path.
"""

import contextlib
import functools
import logging
import threading
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from conversations.models import InboxEvent, InboxEventPruning
from conversations.sql import insert_row

logger = logging.getLogger(__name__)

INBOX_GROUP = "inbox"
MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_UPDATED = "conversation.updated"
CONTACT_UPDATED = "contact.updated"


def user_group(user_id: int) -> str:
    """Every socket of one user, so logout or deactivation can close them all."""
    return f"user.{user_id}"


def publish(event_type: str, payload: dict) -> InboxEvent:
    return publish_together([(event_type, payload)])[0]


def publish_together(events: list[tuple[str, dict]]) -> list[InboxEvent]:
    """Several events of one change, logged in order and pushed in one channel-layer message."""
    logged = [InboxEvent(type=event_type, payload=payload) for event_type, payload in events]
    for event in logged:
        insert_row(event)
    wire_events = [event.as_wire() for event in logged]
    batch = getattr(_local, "batch", None)
    if batch is not None and not batch.hooked:
        batch.hooked = True
        transaction.on_commit(batch.start_collecting)
    transaction.on_commit(lambda: _push(wire_events))
    return logged


_local = threading.local()


class _PushBatch:
    def __init__(self):
        self.events: list[dict] = []
        self.hooked = False

    def start_collecting(self):
        _local.collecting = self

    def send(self):
        if getattr(_local, "collecting", None) is self:
            _local.collecting = None
        if self.events:
            group_send(INBOX_GROUP, {"type": "inbox.events", "events": self.events})


def _push(wire_events: list[dict]) -> None:
    collecting = getattr(_local, "collecting", None)
    if collecting is not None:
        collecting.events.extend(wire_events)
    else:
        group_send(INBOX_GROUP, {"type": "inbox.events", "events": wire_events})


@contextlib.contextmanager
def pushed_together():
    """Inside one transaction: push every event it commits in one channel-layer message.

    Each change still registers its own on_commit hook, so the events of a change rolled back
    to a savepoint are dropped with it. The first change also registers a hook that makes the
    later ones collect into a list, and a last hook, registered on the way out, sends it.
    """
    if getattr(_local, "batch", None) is not None:
        yield
        return
    _local.collecting = None  # left over only if a commit hook before ours raised
    batch = _local.batch = _PushBatch()
    try:
        yield
    finally:
        _local.batch = None
    if batch.hooked:
        transaction.on_commit(batch.send)


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
    from conversations import serializers

    return getattr(serializers, name)()


def _represent(name: str, instance) -> dict:
    return _serializer(name).to_representation(instance)


def message_created(message) -> InboxEvent:
    return publish(
        MESSAGE_CREATED,
        {
            "message": _represent("MessageSerializer", message),
            "conversation": _represent("ConversationSerializer", message.conversation),
        },
    )


def message_updated(message, *, conversation=None) -> None:
    """A message changed; pass its `conversation` when that changed too (one push for both)."""
    events = [(MESSAGE_UPDATED, {"message": _represent("MessageSerializer", message)})]
    if conversation is not None:
        events.append((CONVERSATION_UPDATED, {"conversation": _represent("ConversationSerializer", conversation)}))
    publish_together(events)


def conversation_updated(conversation) -> InboxEvent:
    return publish(CONVERSATION_UPDATED, {"conversation": _represent("ConversationSerializer", conversation)})


def contact_updated(contact) -> InboxEvent:
    return publish(CONTACT_UPDATED, {"contact": _represent("ContactSerializer", contact)})


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
