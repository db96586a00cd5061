from django.db import IntegrityError, models, transaction
from django.db.models import Case, F, Q, Value, When
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
    # One UPDATE (this runs for every webhook): markers only move forward, since messages
    # may be stored out of order.
    at = message.created_at
    newer = Q(last_message_at__isnull=True) | Q(last_message_at__lte=at)
    updates = {
        "last_message": Case(
            When(newer, then=Value(message.pk)), default=F("last_message"), output_field=models.BigIntegerField()
        ),
        "last_message_at": Case(When(newer, then=Value(at)), default=F("last_message_at")),
        "updated_at": timezone.now(),
    }
    if inbound:
        newer_inbound = Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=at)
        updates["unread_count"] = F("unread_count") + 1
        updates["last_inbound_at"] = Case(When(newer_inbound, then=Value(at)), default=F("last_inbound_at"))
        updates["status"] = Case(
            When(status=Conversation.Status.RESOLVED, then=Value(Conversation.Status.OPEN.value)), default=F("status")
        )
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
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
