"""What agents add to a thread for each other: private notes and activity entries.

Both are `Message` rows with direction `internal`, so they sit in the thread's order, page with
its cursor and reach every inbox through the same `message.created` event as a customer's
message. They never reach Plivo (only `outbound.message_send` queues a send), never count as a
reply, never move the conversation's preview or unread count, and are left out of anything the
customer is shown.
"""

from django.db import IntegrityError, transaction

from conversations import events
from conversations.models import Conversation, Message
from conversations.reports.rollups import report_mark
from conversations.services.mentions import mentioned_agents
from conversations.services.notifications import notifications_for_mentions
from messaging_site.errors import ApplicationError

NOTE_MAX_LENGTH = 10_000
REPORTED_ACTIONS = {"status", "assigned", "unassigned", "auto_assigned", "labelled"}


def note_replay(*, conversation: Conversation, author, text: str, idempotency_key: str) -> Message | None:
    """The note an earlier request with this Idempotency-Key added, if any (a 409 when the key
    was used for something else)."""
    if not idempotency_key:
        return None
    existing = Message.objects.filter(sent_by=author, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if (existing.kind, existing.conversation_id, existing.text) != (Message.Kind.NOTE, conversation.pk, (text or "").strip()):
        raise ApplicationError(
            "This Idempotency-Key was already used for something else; use a new key for a new note.",
            code="idempotency_key_reused", field="Idempotency-Key", status=409,
        )
    return existing


@transaction.atomic
def note_add(*, conversation: Conversation, author, text: str, idempotency_key: str = "") -> Message:
    """Add a private note. With an `idempotency_key`, a repeat (even a concurrent one) adds
    nothing and returns the first note."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError("A note needs some text.", field="text", code="required", status=400)
    if len(text) > NOTE_MAX_LENGTH:
        raise ApplicationError(
            f"A note is at most {NOTE_MAX_LENGTH} characters; this one has {len(text)}.", field="text",
            code="too_long", status=400,
        )
    mentioned = mentioned_agents(text=text)
    # Who the note names, so pages mark those names (and only those) as mentions.
    structured = {"mentions": [{"id": a.pk, "username": a.username} for a in mentioned]} if mentioned else None
    try:
        with transaction.atomic():
            note = _internal_entry(conversation=conversation, kind=Message.Kind.NOTE, text=text, by=author,
                                   structured=structured, idempotency_key=idempotency_key)
    except IntegrityError:
        replayed = note_replay(conversation=conversation, author=author, text=text, idempotency_key=idempotency_key)
        if replayed is None:
            raise
        return replayed
    notifications_for_mentions(note=note, recipients=[agent for agent in mentioned if agent.pk != author.pk])
    return note


def activity_record(
    *, conversation: Conversation, actor, action: str, text: str, details: dict | None = None, batch=None
) -> Message:
    """A small entry between messages ("Alice assigned this to Bob"). `action` is a stable name
    (`assigned`, `resolved`, `snoozed`, `labelled`, ...) for programs; `text` is what agents read.
    `actor` is None for what Parley did by itself (a snooze ending). Call inside the change's transaction."""
    structured = {"activity": {"action": action, **(details or {})}}
    entry = _internal_entry(
        conversation=conversation, kind=Message.Kind.ACTIVITY, text=text, by=actor, structured=structured, batch=batch
    )
    if action in REPORTED_ACTIONS:  # reports (issue 16): a status change, or who and which labels on all its days
        report_mark(conversation_id=conversation.pk, at=entry.created_at if action == "status" else None)
    return entry


def _internal_entry(*, conversation: Conversation, kind: str, text: str, by, structured=None, batch=None,
                    idempotency_key: str = "") -> Message:
    entry = Message.objects.create(
        idempotency_key=idempotency_key,
        conversation=conversation,
        direction=Message.Direction.INTERNAL,
        kind=kind,
        status="",
        text=text,
        sent_by=by,
        structured=structured or {},
    )
    events.broadcast_on_commit(events.message_created_event(entry), batch=batch)
    return entry
