"""Erasure on request (GDPR art. 17) and message retention.

Erased messages stay as tombstones: kind, direction, status, timestamps and the Plivo uuid are
kept (counts and reports stay right, and a late Plivo retry of an erased message is still
recognised as a duplicate rather than stored again); text, media references and the
structured part are emptied and `erased_at` is set.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations import events
from conversations.models import (
    Channel,
    ConsentRecord,
    Contact,
    InboxEvent,
    Message,
    MessageStatus,
    MessageStatusEvent,
    OutboundJob,
    SendAttempt,
)
from conversations.campaign_models import CampaignRecipient
from conversations.campaigns.recipients import campaign_recipients_erase
from conversations.privacy.audit import audit_record
from conversations.privacy.suppression import number_suppress
from conversations.reports.rollups import report_mark
from conversations.services.attachments import media_files_delete
from messaging_site.errors import ApplicationError

logger = logging.getLogger(__name__)

# Reserved by the ITU (no country uses +999): a placeholder can never be a real customer's
# number, yet it passes the E.164 check constraint and stays unique per contact.
ERASED_PHONE_PREFIX = "+999"
ERASED_CONTENT = {"text": "", "media": [], "structured": {}, "reply_to_plivo_uuid": ""}
RETENTION_BATCH = 500
RETENTION_INTERVAL_SECONDS = 3600


def erased_phone(contact_pk: int) -> str:
    return f"{ERASED_PHONE_PREFIX}{contact_pk:011d}"


@transaction.atomic
def contact_erase(*, contact: Contact, by, reason: str, request=None) -> Contact:
    """Erase what Parley holds about `contact`, all or nothing, keeping the opt-out: each
    channel it had opted out of puts a keyed hash of its number on the suppression list.
    Final: there is no undo, and an erased contact cannot be erased again."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why this contact is erased (e.g. the customer's request).", field="reason", code="required", status=400)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.erased_at is not None:
        raise ApplicationError("This contact was already erased.", field=None, code="already_erased", status=409)
    now = timezone.now()
    # First: a dispatcher holding one of these recipients commits its message before the messages
    # are listed below, and from here on none of them can be claimed.
    _campaign_rows_erase(contact)
    opted_out = [channel for channel in Channel.values if contact.is_opted_out(channel)]
    for channel in opted_out:
        number_suppress(phone=contact.phone, channel=channel)

    messages = Message.objects.filter(conversation__contact=contact)
    message_ids = list(messages.values_list("pk", flat=True))
    # A reply still waiting in the queue is not sent to a number we no longer know.
    waiting = OutboundJob.objects.filter(message_id__in=message_ids, state=OutboundJob.State.PENDING)
    Message.objects.filter(pk__in=waiting.values("message_id")).update(
        status=MessageStatus.FAILED, failed_at=now, error_message="Not sent: the contact was erased."
    )
    waiting.update(state=OutboundJob.State.FAILED, last_error="The contact was erased.", updated_at=now)
    for conversation_id in contact.conversations.values_list("pk", flat=True):
        report_mark(conversation_id=conversation_id)  # reports (issue 16): its unsent replies failed
    _webhook_receipts_clear(message_ids)
    _messages_erase(Message.objects.filter(pk__in=message_ids), now=now)
    ConsentRecord.objects.filter(contact=contact).update(reason="")
    # The live log's copies of this contact's messages and profile (replays skip them).
    conversation_ids = list(contact.conversations.values_list("pk", flat=True))
    InboxEvent.objects.filter(
        Q(data__contact__id=contact.pk) | Q(data__conversation__id__in=conversation_ids) | Q(data__message__id__in=message_ids)
    ).delete()

    contact.phone = erased_phone(contact.pk)
    contact.display_name = ""
    contact.sms_opt_out_reason = contact.whatsapp_opt_out_reason = ""
    contact.erased_at = now
    contact.save()
    audit_record(
        actor=by, action="contact.erased", target=contact, request=request,
        details={"reason": reason[:500], "messages": len(message_ids), "suppressed_channels": opted_out},
    )
    events.broadcast_on_commit(events.contact_updated_event(contact))
    return contact


def _campaign_rows_erase(contact: Contact) -> None:
    """Campaigns (issue 15): the rows stay (counts stay right) without the number or parameters,
    and without a reason written at sending, which may name the customer ("Ann (+1…) opted
    out…")."""
    placeholder = erased_phone(contact.pk)
    campaign_recipients_erase(phone=contact.phone, placeholder=placeholder)
    CampaignRecipient.objects.filter(phone=placeholder).exclude(skip_detail="").update(skip_detail="The contact was erased.")


def _messages_erase(messages, *, now) -> int:
    ids = list(messages.values_list("pk", flat=True))
    MessageStatusEvent.objects.filter(message_id__in=ids).update(raw_payload={})
    SendAttempt.objects.filter(message_id__in=ids).update(detail="")
    media_files_delete(message_ids=ids)  # uploads and downloaded inbound media
    return Message.objects.filter(pk__in=ids).update(**ERASED_CONTENT, erased_at=now, updated_at=now)


def _webhook_receipts_clear(message_ids) -> None:
    from webhooks.models import WebhookReceipt

    uuids = list(Message.objects.filter(pk__in=message_ids, plivo_message_uuid__isnull=False).values_list("plivo_message_uuid", flat=True))
    report_keys = list(MessageStatusEvent.objects.filter(message_id__in=message_ids).values_list("dedupe_key", flat=True))
    WebhookReceipt.objects.filter(
        Q(kind=WebhookReceipt.Kind.MESSAGE, dedupe_key__in=uuids) | Q(kind=WebhookReceipt.Kind.STATUS, dedupe_key__in=report_keys),
        applied_at__isnull=False,
    ).update(params={})


def messages_retention_erase(*, older_than: timedelta, batch_size: int = RETENTION_BATCH) -> int:
    """Erase the content of customer messages and notes created before now - `older_than`, a
    batch per transaction. Messages still waiting to be sent and activity entries (no customer
    content) are left alone. Returns how many were erased."""
    cutoff = timezone.now() - older_than
    erased = 0
    while True:
        with transaction.atomic():
            batch = (
                Message.objects.filter(created_at__lt=cutoff, erased_at__isnull=True)
                .exclude(kind=Message.Kind.ACTIVITY)
                .exclude(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
                .order_by("created_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            ids = list(batch)
            if not ids:
                return erased
            erased += _messages_erase(Message.objects.filter(pk__in=ids), now=timezone.now())
        if len(ids) < batch_size:
            return erased


_next_retention_run = 0.0


def retention_chore() -> int:
    """The worker's periodic call: at most hourly, and nothing while MESSAGE_RETENTION_DAYS is 0."""
    import time

    global _next_retention_run
    if not settings.MESSAGE_RETENTION_DAYS or time.monotonic() < _next_retention_run:
        return 0
    _next_retention_run = time.monotonic() + RETENTION_INTERVAL_SECONDS
    erased = messages_retention_erase(older_than=timedelta(days=settings.MESSAGE_RETENTION_DAYS))
    if erased:
        logger.info("erased the content of %d messages older than %d days", erased, settings.MESSAGE_RETENTION_DAYS)
    return erased
