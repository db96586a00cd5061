"""Right of access: everything Parley holds about one contact, as one JSON document."""

from django.db.models import Prefetch, Q
from django.utils import timezone

from conversations.campaign_models import CampaignRecipient
from conversations.campaigns.results import RECIPIENT_RESULT
from conversations.models import ConsentRecord, Contact, Message, MessageStatusEvent
from conversations.privacy.audit import audit_record

EXPORT_FORMAT = "parley.contact-export.v1"


def contact_export(*, contact: Contact, by, include_internal: bool = False, request=None) -> dict:
    """The contact, every conversation and message on every channel (status history
    included), its consent history and the campaigns it was a recipient of. Notes and activity entries only with
    `include_internal`. Audited: who exported whom, when."""
    messages = Message.objects.select_related("sent_by").prefetch_related(
        Prefetch("status_events", queryset=MessageStatusEvent.objects.order_by("received_at", "id"))
    )
    if not include_internal:
        messages = messages.exclude(direction=Message.Direction.INTERNAL)
    conversations = contact.conversations.order_by("channel").prefetch_related(
        Prefetch("messages", queryset=messages.order_by("created_at", "id"), to_attr="exported_messages")
    )
    consent = ConsentRecord.objects.filter(contact=contact).select_related("by").order_by("created_at", "id")
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "include_internal": include_internal,
        "contact": {
            "id": contact.pk,
            "phone": contact.phone,
            "display_name": contact.display_name,
            "created_at": _iso(contact.created_at),
            "erased_at": _iso(contact.erased_at),
            "opt_out": {
                channel: {"opted_out_at": _iso(contact.opted_out_at(channel)), "reason": getattr(contact, f"{channel}_opt_out_reason")}
                for channel in ("whatsapp", "sms")
            },
            "help_requested_at": _iso(contact.help_requested_at),
        },
        "conversations": [_conversation(conversation) for conversation in conversations],
        "consent_history": [consent_as_dict(record) for record in consent],
        "campaigns": [_campaign_membership(recipient) for recipient in campaign_memberships(contact)],
    }
    audit_record(actor=by, action="contact.exported", target=contact, request=request,
                 details={"include_internal": include_internal})
    return document


def consent_as_dict(record: ConsentRecord) -> dict:
    return {
        "channel": record.channel,
        "opted_in": record.opted_in,
        "method": record.method,
        "by": record.by.get_username() if record.by else None,
        "reason": record.reason,
        "at": _iso(record.created_at),
    }


def campaign_memberships(contact: Contact):
    """The contact's rows in campaigns: its number (as every campaign stores it, E.164; after an
    erasure, the placeholder both carry), or a campaign message in one of its conversations.
    Rows of other numbers never match, even in the same campaign."""
    return (CampaignRecipient.objects.filter(Q(phone=contact.phone) | Q(message__conversation__contact=contact))
            .annotate(result=RECIPIENT_RESULT).select_related("campaign", "message").order_by("created_at", "id"))


def _campaign_membership(recipient: CampaignRecipient) -> dict:
    campaign = recipient.campaign
    return {
        "campaign": {"id": campaign.pk, "name": campaign.name, "channel": campaign.channel, "status": campaign.status},
        "phone": recipient.phone,
        "parameters": recipient.parameters,
        "status": recipient.result,
        "skip_reason": recipient.skip_reason,
        "skip_detail": recipient.skip_detail,
        "added_at": _iso(recipient.created_at),
        "not_before": _iso(recipient.not_before),
        "queued_at": _iso(recipient.queued_at),
        "replied_at": _iso(recipient.replied_at),
        # The message sent, exported with its conversation above.
        "message_id": recipient.message_id,
        "conversation_id": recipient.message.conversation_id if recipient.message else None,
    }


def _conversation(conversation) -> dict:
    return {
        "id": conversation.pk,
        "channel": conversation.channel,
        "status": conversation.status,
        "created_at": _iso(conversation.created_at),
        "messages": [_message(message) for message in conversation.exported_messages],
    }


def _message(message: Message) -> dict:
    return {
        "id": message.pk,
        "direction": message.direction,
        "kind": message.kind,
        "text": message.text,
        # Links to the stored copies of the media (Plivo's media URLs as received or sent).
        "media": message.media,
        "payload": message.structured,
        "status": message.status,
        "error_code": message.error_code,
        "sent_by": message.sent_by.get_username() if message.sent_by else None,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "erased_at": _iso(message.erased_at),
        "status_history": [
            {"status": event.status, "error_code": event.error_code, "at": _iso(event.received_at)}
            for event in message.status_events.all()
        ],
    }


def _iso(moment):
    return moment.isoformat() if moment else None
