"""Customer messages from Plivo's inbound webhook.

They arrive at least once and in any order. A duplicate is stopped by the unique constraint
on `Message.plivo_message_uuid`, never by a Python check alone.
"""

from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.campaigns.results import replies_record
from conversations.models import Contact, Conversation, Message, MessageStatus
from conversations.services.contacts import contact_get_or_create
from conversations.services.conversations import conversation_get_or_create, conversation_record_message
from conversations.services.keywords import keyword_apply
from conversations.services.media_download import inbound_media_register
from conversations.sql import insert_row
from conversations.sql_reads import conversation_for_sender

PLIVO_UUID_CONFLICT = "(plivo_message_uuid) WHERE plivo_message_uuid IS NOT NULL"


def message_receive(*, payload, received_at=None, batch: events.BroadcastBatch | None = None) -> tuple[Message, bool]:
    """Store one inbound message (a `webhooks.payloads.InboundPayload`) exactly once.

    `received_at` is when Plivo delivered it (default: now); the thread's order and the
    WhatsApp 24-hour window count from it, however long it waited to be applied. Its events
    go out with `batch` when given (the webhook worker's).
    Returns (message, created). A repeated MessageUUID, also when N copies arrive at the same
    instant, creates and publishes nothing: the database's unique constraint decides.
    """
    with transaction.atomic(savepoint=False):  # the webhook worker gives each receipt a savepoint
        contact, conversation = _thread_for(payload)
        reply_to = None
        if payload.reply_to_plivo_uuid:
            reply_to = Message.objects.filter(plivo_message_uuid=payload.reply_to_plivo_uuid).first()
        message = Message(
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            kind=payload.kind,
            text=payload.text,
            media=payload.media,
            structured=payload.structured,
            plivo_message_uuid=payload.message_uuid,
            reply_to=reply_to,
            reply_to_plivo_uuid=payload.reply_to_plivo_uuid,
            status=MessageStatus.RECEIVED,
            created_at=received_at or timezone.now(),
        )
        # No look-up first: the INSERT finds a retry at no extra cost for new messages. A
        # concurrent copy of this webhook waits here for the first to commit.
        if not insert_row(message, unless_conflict_on=PLIVO_UUID_CONFLICT):
            return Message.objects.get(plivo_message_uuid=payload.message_uuid), False

        inbound_media_register(message=message)  # downloaded in the background, shown once stored
        conversation = conversation_record_message(conversation=conversation, message=message, inbound=True, batch=batch)
        keyword_apply(contact=contact, channel=payload.channel, text=payload.text, intent=payload.intent, batch=batch)
        replies_record(conversation_id=conversation.pk, at=message.created_at)  # campaigns: "replied"
        message.conversation = conversation
        events.broadcast_on_commit(events.message_created_event(message), batch=batch)
    return message, True


def _thread_for(payload) -> tuple[Contact, Conversation]:
    """The sender's contact and conversation on this channel, created on first contact."""
    phone = payload.from_number  # E.164 already
    conversation = conversation_for_sender(phone=phone, channel=payload.channel)
    if conversation is None:
        contact, _ = contact_get_or_create(phone=phone, display_name=payload.profile_name)
        conversation, created = conversation_get_or_create(contact=contact, channel=payload.channel)
        conversation.contact = contact
        if created:
            conversation.label_summaries = []  # for its events, without asking
        return contact, conversation
    contact = conversation.contact
    if payload.profile_name and not contact.display_name:
        contact.display_name = payload.profile_name
        contact.save(update_fields=["display_name", "updated_at"])
    return contact, conversation
