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
