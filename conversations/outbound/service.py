"""The send service: `message_send()` queues a message (its `OutboundJob` in the same
transaction: no message without its job), `job_send()` makes one attempt for a claimed job,
`message_retry()` is an agent's retry.

An attempt: the rules that can change while a message waits (opt-out, WhatsApp's window) are
checked again; the request waits for its turn (`pacing.py`: the sender's MPS, the account's
API limit); the attempt is recorded, the request made (`transport.py`) and its outcome recorded
(`jobs.py`).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from conversations import events
from conversations.models import Channel, Contact, Conversation, MediaFile, Message, MessageStatus, OutboundJob
from conversations.outbound import jobs, pacing
from conversations.outbound.content import PreparedContent, content_prepare
from conversations.outbound.transport import Result, SendOutcome, plivo_media_upload, plivo_send, sender_for
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.plivo_errors import ERROR_REFUSED
from conversations.privacy.suppression import send_refuse_if_suppressed
from conversations.services.attachments import attachments_attach
from conversations.services.contacts import contact_get_or_create
from conversations.services.conversations import (
    conversation_auto_assign_on_reply,
    conversation_get_or_create,
    conversation_record_message,
)
from messaging_site.errors import ApplicationError

logger = logging.getLogger(__name__)

# A claimed job waits at most this long for its turn; a later turn gives it back to the queue.
TURN_WAIT_MAX_SECONDS = 5.0


def _destination(*, to: str | None, conversation: Conversation | None, channel: str | None) -> tuple[str, str]:
    if conversation is not None:
        return conversation.contact.phone, conversation.channel
    if channel not in Channel.values:
        raise ApplicationError("channel must be whatsapp or sms.", code="invalid_channel", field="channel", status=400)
    try:
        phone = normalize_phone(to or "", strict=True)
    except InvalidPhoneNumber as exc:
        raise ApplicationError(f"{exc} ({to!r})" if to else str(exc), code="invalid_phone", field="to") from None
    if phone in (settings.PLIVO_WHATSAPP_NUMBER, settings.PLIVO_SMS_NUMBER):
        raise ApplicationError("That is one of Parley's own numbers.", code="invalid_phone", field="to")
    return phone, channel


def _replay(*, sent_by, idempotency_key: str, phone: str, channel: str, kind: str, text: str,
            attachments=None) -> Message | None:
    """The message an earlier request with this Idempotency-Key created, if any."""
    if not idempotency_key or sent_by is None:
        return None
    existing = (
        Message.objects.select_related("conversation__contact", "sent_by", "reply_to")
        .filter(sent_by=sent_by, idempotency_key=idempotency_key)
        .first()
    )
    if existing is None:
        return None
    same_text = kind not in ("text", "media") or existing.text == (text or "")
    sent_files = sorted(item["attachment_id"] for item in existing.media if item.get("attachment_id"))
    same_files = kind != "media" or sent_files == sorted(attachments or [])
    if (existing.conversation.contact.phone, existing.conversation.channel, existing.kind) != (phone, channel, kind) \
            or not same_text or not same_files:
        raise ApplicationError(
            "This Idempotency-Key was already used for a different message; use a new key for a new message.",
            code="idempotency_key_reused",
            field="Idempotency-Key",
            status=409,
        )
    return existing


def message_send(
    *,
    kind: str,
    sent_by=None,
    conversation: Conversation | None = None,
    to: str | None = None,
    channel: str | None = None,
    text: str = "",
    media_urls=None,
    template: dict | None = None,
    interactive: dict | None = None,
    location: dict | None = None,
    attachments=None,
    idempotency_key: str = "",
    priority: int = OutboundJob.Priority.REPLY,
) -> tuple[Message, bool]:
    """Queue one outbound message to `conversation`, or to the number `to` on `channel`
    (creating the contact and conversation when new). Returns (message, created); with an
    `idempotency_key` already used by `sent_by`, returns the first message and sends nothing.
    Raises `ApplicationError` and stores nothing when the message cannot be sent.

    `priority`: an agent's reply (the default) is sent before bulk sends waiting in the queue.
    """
    if conversation is not None:
        conversation = Conversation.objects.select_related("contact").get(pk=conversation.pk)
    phone, channel = _destination(to=to, conversation=conversation, channel=channel)
    idempotency_key = (idempotency_key or "").strip()
    replayed = _replay(sent_by=sent_by, idempotency_key=idempotency_key, phone=phone, channel=channel, kind=kind,
                       text=text, attachments=attachments)
    if replayed is not None:
        return replayed, False
    content = content_prepare(
        channel=channel, kind=kind, text=text, media_urls=media_urls, template=template,
        interactive=interactive, location=location, attachments=attachments, sent_by=sent_by,
    )
    try:
        with transaction.atomic():
            message = _message_queue(conversation=conversation, phone=phone, channel=channel, content=content,
                                     sent_by=sent_by, idempotency_key=idempotency_key, priority=priority)
            conversation_auto_assign_on_reply(conversation=message.conversation, agent=sent_by)
    except IntegrityError:
        # Two requests with the same key raced; the database let exactly one through.
        replayed = _replay(sent_by=sent_by, idempotency_key=idempotency_key, phone=phone, channel=channel, kind=kind,
                       text=text, attachments=attachments)
        if replayed is None:
            raise
        return replayed, False
    return message, True


def _message_queue(*, conversation, phone, channel, content: PreparedContent, sent_by, idempotency_key, priority) -> Message:
    if conversation is None:
        contact, _ = contact_get_or_create(phone=phone)
        conversation, _ = conversation_get_or_create(contact=contact, channel=channel)
    contact = Contact.objects.get(pk=conversation.contact_id)
    send_refuse_if_suppressed(contact=contact, channel=channel)  # privacy: erased/suppressed numbers (issue 17)
    if contact.is_opted_out(channel):
        raise opted_out_error(contact, conversation)
    if content.kind != "template" and not conversation.window_is_open():
        raise window_closed_error()
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        kind=content.kind,
        text=content.text,
        media=content.media,
        structured=content.structured,
        status=MessageStatus.QUEUED,
        sent_by=sent_by,
        idempotency_key=idempotency_key,
    )
    if content.attachment_files:
        attachments_attach(message=message, files=content.attachment_files,
                           first_position=len(content.media) - len(content.attachment_files))
    OutboundJob.objects.create(message=message, next_attempt_at=message.created_at, priority=priority)
    message.conversation = conversation_record_message(conversation=conversation, message=message, inbound=False)
    events.broadcast_on_commit(events.message_created_event(message))
    return message


def opted_out_error(contact: Contact, conversation: Conversation) -> ApplicationError:
    return ApplicationError(
        f"{contact} opted out of {conversation.get_channel_display()} messages; nothing is sent until they opt back in.",
        code="opted_out",
        field="to",
    )


def window_closed_error() -> ApplicationError:
    return ApplicationError(
        "WhatsApp's 24-hour window for this customer is closed (their last message is more than 24 hours old, "
        "or they never wrote). Send an approved template instead; free-form messages are possible again once they reply.",
        code="window_closed",
        field="kind",
    )


# --- attempts -----------------------------------------------------------------------------------
def outbound_job_process(*, message_id: int, worker_id: str = "inline") -> str | None:
    """Claim the job of `message_id` and make one send attempt; None if not claimable."""
    job = jobs.outbound_job_claim(message_id=message_id, worker_id=worker_id)
    if job is None:
        return None
    return job_send(job=job)


def job_send(*, job: OutboundJob, requested_by=None) -> str:
    """Make one attempt for a job this worker claimed (loaded with its message, conversation and
    contact) and record its outcome; returns what happened (a `Result`, or "deferred" / "lost"
    when no request was made)."""
    message = job.message
    refusal = _refusal_at_send_time(message)
    if refusal is None:
        later = pacing.request_turn(sender=sender_for(message.conversation.channel), within=_turn_budget(job))
        if later is not None:
            jobs.outbound_job_release(job=job, until=timezone.now() + timedelta(seconds=later))
            return "deferred"
    attempt = jobs.attempt_begin(job=job, requested_by=requested_by)
    if attempt is None:
        return "lost"
    _release_connection()  # none is held during the request
    if refusal is not None:
        outcome = SendOutcome(kind=Result.PERMANENT, reason=refusal, detail="refused before sending", error_code=ERROR_REFUSED)
    else:
        media_ids, outcome = _attachments_upload(message)
        if outcome is None:
            outcome = plivo_send(message, media_ids)
    if outcome.kind == Result.THROTTLED:
        outcome.retry_after = pacing.rate_limited(retry_after=outcome.retry_after)
    _outcome_record_surviving_outages(job=job, attempt=attempt, outcome=outcome)
    return outcome.kind


def _attachments_upload(message: Message) -> tuple[dict, SendOutcome | None]:
    """Plivo's Media API id of each attachment of `message`, uploading those without one. Each
    id is stored at once, so a retried job (a transient error, a crash) does not upload again."""
    ids = [item["attachment_id"] for item in message.media if item.get("attachment_id")]
    if not ids:
        return {}, None
    media_ids = {}
    files = list(MediaFile.objects.filter(pk__in=ids, message=message))
    _release_connection()
    for media in files:
        if not media.plivo_media_id:
            pacing.request_turn()  # an upload counts against the account's API limit too
            _release_connection()
            media_id, failure = plivo_media_upload(media)
            if failure is not None:
                return {}, failure
            MediaFile.objects.filter(pk=media.pk).update(plivo_media_id=media_id)
            _release_connection()
            media.plivo_media_id = media_id
        media_ids[media.pk] = media.plivo_media_id
    if len(media_ids) != len(ids):
        return {}, SendOutcome(kind=Result.PERMANENT, error_code=ERROR_REFUSED, detail="attachment missing",
                               reason="Not sent: an attachment of this message was deleted; send it as a new message.")
    return media_ids, None


def _outcome_record_surviving_outages(*, job: OutboundJob, attempt, outcome: SendOutcome) -> None:
    """Record the outcome, riding out a database outage for most of the job's lease: Plivo's
    answer (above all an accepted uuid) exists only in memory until it is stored. Past that,
    the recovery sweep finds the unfinished attempt and marks the send unconfirmed."""
    deadline = time.monotonic() + settings.OUTBOUND_LEASE_SECONDS / 2
    wait = 0.5
    while True:
        try:
            jobs.outcome_record(job=job, attempt=attempt, outcome=outcome)
            return
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + wait > deadline:
                raise
            logger.warning("could not record the outcome of message %s (%s); trying again in %s s", job.message_id, exc, wait)
            connection.close()
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def _turn_budget(job: OutboundJob) -> float:
    """How long the job may wait for its turn: within its lease (renewed when the attempt
    begins), and not so long that it holds a thread other senders' messages could use."""
    lease_left = (job.lease_expires_at - timezone.now()).total_seconds()
    return max(0.0, min(TURN_WAIT_MAX_SECONDS, lease_left * 0.75))


def _release_connection() -> None:
    # Give the database connection back to the pool while the request runs (not when a test
    # drives the send inside its own transaction).
    if not connection.in_atomic_block:
        connection.close()


def _refusal_at_send_time(message: Message) -> str | None:
    """Rules that can change while a message waits in the queue (opt-out, WhatsApp window).
    `message.conversation.contact` was loaded with the job, right after it was claimed."""
    conversation = message.conversation
    if conversation.contact.is_opted_out(conversation.channel):
        return "Not sent: the customer opted out while the message was waiting to be sent."
    if message.kind != "template" and not conversation.window_is_open():
        return ("Not sent: WhatsApp's 24-hour window closed while the message was waiting to be sent. "
                "Send an approved template instead.")
    return None


# --- an agent's retry -----------------------------------------------------------------------------
def message_retry(*, message: Message, requested_by) -> Message:
    """Send a failed outbound message again, now, on behalf of `requested_by`; the attempt
    is recorded with them. Transient trouble during it continues with the normal backoff."""
    job = jobs.retry_begin(message=message, requested_by=requested_by)
    job_send(job=job, requested_by=requested_by)
    return jobs.message_for_event(message.pk)
