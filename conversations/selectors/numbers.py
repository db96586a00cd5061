"""What Parley knows about a phone number before an agent writes to it."""

from django.conf import settings

from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.privacy.suppression import suppressed_channels
from conversations.sql_reads import conversation_for_sender
from messaging_site.errors import ApplicationError


def number_lookup(*, phone: str, channel: str) -> dict:
    """The number in E.164, its conversation on `channel` (if any), and why nothing may be sent
    to it there (opted out, suppressed), or None. Raises `ApplicationError` for a bad number."""
    try:
        e164 = normalize_phone(phone, strict=True)
    except InvalidPhoneNumber as exc:
        raise ApplicationError(f"{exc} ({phone!r})", code="invalid_phone", field="phone", status=400) from None
    if e164 in (settings.PLIVO_WHATSAPP_NUMBER, settings.PLIVO_SMS_NUMBER):
        raise ApplicationError("That is one of Parley's own numbers.", code="invalid_phone", field="phone", status=400)
    conversation = conversation_for_sender(phone=e164, channel=channel)
    label = "WhatsApp" if channel == "whatsapp" else "SMS"
    refusal = None
    if channel in suppressed_channels(e164) or (conversation and conversation.contact.erased_at):
        refusal = "This number opted out (or its contact was erased); nothing is sent to it."
    elif conversation is not None and conversation.contact.is_opted_out(channel):
        contact = conversation.contact
        reason = getattr(contact, f"{channel}_opt_out_reason")
        refusal = (f"{contact} opted out of {label} messages on {contact.opted_out_at(channel):%Y-%m-%d}"
                   f"{f' ({reason})' if reason else ''}; nothing is sent until they opt back in.")
    return {
        "phone": e164,
        "channel": channel,
        "conversation_id": conversation.pk if conversation else None,
        "refusal": refusal,
        "window_open": conversation.window_is_open() if conversation else channel != "whatsapp",
    }
