from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations import events
from conversations.models import Contact, Conversation
from conversations.sql import copy_columns, db_datetime, update_returning


def conversation_get_or_create(*, contact: Contact, channel: str) -> tuple[Conversation, bool]:
    conversation = Conversation.objects.filter(contact=contact, channel=channel).first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            return Conversation.objects.create(contact=contact, channel=channel), True
    except IntegrityError:  # created concurrently by another request
        return Conversation.objects.get(contact=contact, channel=channel), False


def conversation_set_status(*, conversation: Conversation, status: str) -> Conversation:
    if conversation.status != status:
        conversation.status = status
        conversation.save(update_fields=["status", "updated_at"])
        events.broadcast_on_commit(events.conversation_updated_event(conversation))
    return conversation


def conversation_assign(*, conversation: Conversation, assignee) -> Conversation:
    if conversation.assignee_id != (assignee.pk if assignee else None):
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee", "updated_at"])
        events.broadcast_on_commit(events.conversation_updated_event(conversation))
    return conversation


def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    if Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0):
        conversation.refresh_from_db()
        events.broadcast_on_commit(events.conversation_updated_event(conversation))
    return conversation


def conversation_record_message(*, conversation: Conversation, message, inbound: bool) -> Conversation:
    """Move the thread's activity markers to `message`; an inbound one also counts as unread
    and reopens a resolved thread. Call inside the transaction that created `message`.

    Returns `conversation` refreshed to what was written. Markers only move forward, since
    messages may be stored out of order.
    """
    at = db_datetime(message.created_at)
    newer = "(last_message_at IS NULL OR last_message_at <= %s)"
    assignments = [
        f"last_message_id = CASE WHEN {newer} THEN %s ELSE last_message_id END",
        f"last_message_at = CASE WHEN {newer} THEN %s ELSE last_message_at END",
        "updated_at = %s",
    ]
    params = [at, message.pk, at, at, db_datetime(timezone.now())]
    if inbound:
        assignments += [
            "unread_count = unread_count + 1",
            "last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at <= %s THEN %s ELSE last_inbound_at END",
            "status = CASE WHEN status = %s THEN %s ELSE status END",
        ]
        params += [at, at, Conversation.Status.RESOLVED.value, Conversation.Status.OPEN.value]
    # One statement for every webhook: the update and the re-read together.
    updated = update_returning(Conversation, assignments=", ".join(assignments), where="id = %s", params=[*params, conversation.pk])
    copy_columns(source=updated, target=conversation)
    if conversation.last_message_id == message.pk:
        conversation.last_message = message
    return conversation


class ReassignNotAllowed(Exception):
    """An agent tried to take or hand off a conversation that a colleague holds."""


def conversation_assign_by_agent(*, conversation: Conversation, assignee, by) -> Conversation:
    """Assign `conversation` to `assignee` (None: unassign) on behalf of agent `by`.

    The rule: any agent may assign an unassigned conversation (to themselves or a colleague)
    and may hand on or drop a conversation assigned to themselves. Taking a conversation away
    from a colleague (reassigning or unassigning it while someone else holds it) is for staff
    (supervisors) only, so two agents never silently pull a customer from each other. The row
    is locked while the rule is checked, so of two agents grabbing the same unassigned
    conversation at once, the second sees the first's assignment and is refused.
    """
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        holder_id = locked.assignee_id
        target_id = assignee.pk if assignee else None
        if holder_id not in (None, by.pk, target_id) and not by.is_staff:
            raise ReassignNotAllowed(
                "This conversation is assigned to a colleague; ask them or a supervisor to hand it over."
            )
        conversation_assign(conversation=locked, assignee=assignee)
    conversation.refresh_from_db()
    return conversation
