from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.models import Contact, Conversation
from conversations.permissions import user_is_agent
from conversations.services.labels import conversation_labels_set
from conversations.sql import copy_columns, db_datetime, update_returning
from messaging_site.errors import ApplicationError


def conversation_get_or_create(*, contact: Contact, channel: str) -> tuple[Conversation, bool]:
    # get_or_create retries the read when a concurrent first message created the row first.
    return Conversation.objects.get_or_create(contact=contact, channel=channel)


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


def conversation_assign_by_agent(*, conversation: Conversation, assignee, by) -> Conversation:
    """Assign `conversation` to `assignee` (None: unassign) on behalf of agent `by`.

    The rule: any agent may assign an unassigned conversation (to themselves or a colleague)
    and may hand on or drop a conversation assigned to themselves. Taking a conversation away
    from a colleague (reassigning or unassigning it while someone else holds it) is for staff
    (supervisors) only, so two agents never silently pull a customer from each other. The row
    is locked while the rule is checked, so of two agents grabbing the same unassigned
    conversation at once, the second sees the first's assignment and is refused.
    """
    if assignee is not None and not user_is_agent(assignee):
        raise ApplicationError(
            "Conversations can only be assigned to active agents.", field="assignee_id", code="not_an_agent"
        )
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        holder_id = locked.assignee_id
        target_id = assignee.pk if assignee else None
        if holder_id not in (None, by.pk, target_id) and not by.is_staff:
            raise ApplicationError(
                "This conversation is assigned to a colleague; ask them or a supervisor to hand it over.",
                field="assignee_id",
                code="assigned_to_colleague",
                status=403,
            )
        conversation_assign(conversation=locked, assignee=assignee)
    conversation.refresh_from_db()
    return conversation


_UNSET = object()


@transaction.atomic
def conversation_update(
    *, conversation: Conversation, by, status: str | None = None, assignee_id=_UNSET, labels: list[str] | None = None
) -> Conversation:
    """An agent's change of status, assignee (`assignee_id=None` unassigns) and/or labels (the
    full set, by name), all or nothing."""
    if assignee_id is not _UNSET:
        assignee = None
        if assignee_id is not None:
            assignee = get_user_model().objects.filter(pk=assignee_id).first()
            if assignee is None:
                raise ApplicationError(
                    "Conversations can only be assigned to active agents.", field="assignee_id", code="not_an_agent"
                )
        conversation = conversation_assign_by_agent(conversation=conversation, assignee=assignee, by=by)
    if status is not None:
        conversation = conversation_set_status(conversation=conversation, status=status)
    if labels is not None:
        conversation = conversation_labels_set(conversation=conversation, by=by, names=labels)
    return conversation
