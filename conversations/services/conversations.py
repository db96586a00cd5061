from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import events
from conversations.models import Contact, Conversation


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
        events.conversation_updated(conversation)
    return conversation


def conversation_assign(*, conversation: Conversation, assignee) -> Conversation:
    if conversation.assignee_id != (assignee.pk if assignee else None):
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee", "updated_at"])
        events.conversation_updated(conversation)
    return conversation


def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    if Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0):
        conversation.refresh_from_db()
        events.conversation_updated(conversation)
    return conversation


def conversation_record_message(*, conversation: Conversation, message, inbound: bool) -> Conversation:
    """Move the thread's activity markers to `message`; an inbound one also counts as unread
    and reopens a resolved thread. Call inside the transaction that created `message`."""
    now = timezone.now()
    newer = Q(last_message_at__isnull=True) | Q(last_message_at__lte=message.created_at)
    Conversation.objects.filter(newer, pk=conversation.pk).update(
        last_message=message, last_message_at=message.created_at
    )
    if inbound:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=F("unread_count") + 1, updated_at=now)
        Conversation.objects.filter(
            Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=message.created_at), pk=conversation.pk
        ).update(last_inbound_at=message.created_at)
        Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.RESOLVED).update(
            status=Conversation.Status.OPEN
        )
    else:
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
    conversation.refresh_from_db()
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
