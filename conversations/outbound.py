"""The one send path: every outbound WhatsApp and SMS message goes through this module.

1. `message_send()` validates the request (destination, opt-out, WhatsApp's 24-hour window,
   template parameters, interactive limits, text and media rules) and writes the `queued`
   message, its `OutboundJob` and the task that triggers the send in ONE transaction: no
   message without its job, no job without its message.
2. A worker runs `send_outbound_job` (the Tasks API; `conversations/outbound_worker.py` runs
   it), which claims the job with a lease and makes one request to Plivo through the SDK.
3. The answer is classified: accepted (store the uuid, `sending`), transient (retry with
   backoff), permanent (`failed` at once) or ambiguous (the request may have reached Plivo:
   never resent automatically; `unconfirmed` until a report arrives or the time runs out).

Nothing else in Parley calls the Plivo SDK to send.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import socket
import threading
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from urllib.parse import urlsplit

import plivo
import plivo.rest.client
import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Max, Q, Value, When
from django.utils import timezone
from django_tasks import task
from plivo import exceptions as plivo_exceptions
from plivo.utils.interactive import Interactive
from plivo.utils.location import Location
from plivo.utils.template import Template
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from conversations import events
from conversations.background import backoff_seconds
from conversations.models import (
    Channel,
    Contact,
    Conversation,
    Message,
    MessageStatus,
    MessageTemplate,
    OutboundJob,
    STATUS_RANK,
    SendAttempt,
)
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.plivo_errors import ERROR_REFUSED, ERROR_UNAVAILABLE, ERROR_UNCONFIRMED
from conversations.privacy.suppression import send_refuse_if_suppressed
from conversations.services.contacts import contact_get_or_create
from conversations.services.conversations import conversation_get_or_create, conversation_record_message
from conversations.services.delivery_reports import status_events_attach, uuid_lock
from messaging_site.errors import ApplicationError

logger = logging.getLogger(__name__)

KINDS = ("text", "media", "template", "interactive", "location")
WHATSAPP_ONLY_KINDS = ("template", "interactive", "location")
TEXT_LIMITS = {Channel.WHATSAPP: 4096, Channel.SMS: 1600}
WHATSAPP_CAPTION_LIMIT = 1024
MMS_MEDIA_LIMIT = 10
RETRYABLE_FAILURE_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REJECTED)
OUTBOUND_QUEUE = "outbound"
_local = threading.local()  # per thread: the SDK client, its last response, the worker's name


# --- validation -------------------------------------------------------------------------------
@dataclass
class PreparedContent:
    """What a valid request turns into: the message's stored fields."""

    kind: str
    text: str = ""
    media: list = dataclass_field(default_factory=list)
    structured: dict = dataclass_field(default_factory=dict)


def _is_http_url(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _require_text(value, *, field: str, limit: int, what: str, required: bool = True) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if required and not text.strip():
        raise ApplicationError(f"{what} is required.", code="required", field=field, status=400)
    if len(text) > limit:
        raise ApplicationError(
            f"{what} is {len(text)} characters long; the limit is {limit}.", code="too_long", field=field
        )
    return text


def content_prepare(
    *,
    channel: str,
    kind: str,
    text: str = "",
    media_urls=None,
    template: dict | None = None,
    interactive: dict | None = None,
    location: dict | None = None,
) -> PreparedContent:
    """Check one message's content against the channel's rules; raise `ApplicationError`."""
    if channel not in Channel.values:
        raise ApplicationError("channel must be whatsapp or sms.", code="invalid_channel", field="channel", status=400)
    if kind not in KINDS:
        raise ApplicationError(f"kind must be one of {', '.join(KINDS)}.", code="invalid_kind", field="kind", status=400)
    if channel == Channel.SMS and kind in WHATSAPP_ONLY_KINDS:
        raise ApplicationError(
            f"{kind.capitalize()} messages exist only on WhatsApp; over SMS send text or media.",
            code="unsupported_for_channel",
            field="kind",
        )
    media_urls = list(media_urls or [])
    if kind != "media" and media_urls:
        raise ApplicationError("media_urls are only used with type media.", code="unexpected_field", field="media_urls", status=400)
    limit = TEXT_LIMITS[channel]
    if kind == "text":
        return PreparedContent(kind="text", text=_require_text(text, field="text", limit=limit, what="The text"))
    if kind == "media":
        return _prepare_media(channel=channel, text=text, media_urls=media_urls)
    if text:
        raise ApplicationError(f"text is not used with type {kind}.", code="unexpected_field", field="text", status=400)
    if kind == "template":
        return _prepare_template(template)
    if kind == "interactive":
        return _prepare_interactive(interactive)
    return _prepare_location(location)


def _prepare_media(*, channel: str, text: str, media_urls: list) -> PreparedContent:
    if not media_urls:
        raise ApplicationError("A media message needs at least one URL in media_urls.", code="required", field="media_urls", status=400)
    most = 1 if channel == Channel.WHATSAPP else MMS_MEDIA_LIMIT
    if len(media_urls) > most:
        raise ApplicationError(
            "WhatsApp sends one media file per message; send the others as separate messages."
            if channel == Channel.WHATSAPP
            else f"An MMS carries at most {MMS_MEDIA_LIMIT} media files.",
            code="too_many_media",
            field="media_urls",
        )
    for index, url in enumerate(media_urls):
        if not _is_http_url(url):
            raise ApplicationError(
                "Media URLs must be public http(s) URLs that Plivo can download.",
                code="invalid_media_url",
                field=f"media_urls.{index}",
            )
    caption_limit = WHATSAPP_CAPTION_LIMIT if channel == Channel.WHATSAPP else TEXT_LIMITS[channel]
    caption = _require_text(text, field="text", limit=caption_limit, what="The caption", required=False)
    media = [{"url": url.strip(), "content_type": mimetypes.guess_type(urlsplit(url).path)[0] or ""} for url in media_urls]
    return PreparedContent(kind="media", text=caption, media=media)


def _as_parameter_list(values, *, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise ApplicationError("Template parameters are given as a list of values.", code="invalid", field=field, status=400)
    result = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
            raise ApplicationError(
                "Each template parameter must be a non-empty text or number.", code="invalid_parameter", field=f"{field}.{index}"
            )
        if len(str(value)) > 1024:
            raise ApplicationError("A template parameter is at most 1024 characters.", code="too_long", field=f"{field}.{index}")
        result.append(str(value))
    return result


def _count_mismatch(where: str, expected: int, given: int, field: str) -> ApplicationError:
    noun = "parameter" if expected == 1 else "parameters"
    return ApplicationError(
        f"The template's {where} takes {expected} {noun}; {given} given.", code="template_parameters", field=field
    )


def _prepare_template(call: dict | None) -> PreparedContent:
    if not isinstance(call, dict) or not call.get("name") or not call.get("language"):
        raise ApplicationError("A template message needs template.name and template.language.", code="required", field="template", status=400)
    name, language = str(call["name"]), str(call["language"])
    template = MessageTemplate.objects.filter(name=name, language=language).first()
    if template is None:
        languages = list(MessageTemplate.objects.filter(name=name).values_list("language", flat=True))
        hint = f" It exists in: {', '.join(languages)}." if languages else ""
        raise ApplicationError(
            f"There is no template named {name!r} in language {language!r}.{hint}", code="template_not_found", field="template.name"
        )
    if template.status != MessageTemplate.Status.APPROVED:
        raise ApplicationError(
            f"The template {name!r} is {template.get_status_display().lower()}, not approved by WhatsApp; only approved templates can be sent.",
            code="template_not_approved",
            field="template.name",
        )
    parameters = call.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ApplicationError("template.parameters is an object with header, body and buttons.", code="invalid", field="template.parameters", status=400)
    slots = template.parameter_slots()
    header = _as_parameter_list(parameters.get("header"), field="template.parameters.header")
    body = _as_parameter_list(parameters.get("body"), field="template.parameters.body")
    if len(header) != slots["header"]:
        raise _count_mismatch("header", slots["header"], len(header), "template.parameters.header")
    if len(body) != slots["body"]:
        raise _count_mismatch("body", slots["body"], len(body), "template.parameters.body")
    given_buttons = parameters.get("buttons") or {}
    if not isinstance(given_buttons, dict):
        raise ApplicationError('template.parameters.buttons maps a button index ("0") to its parameters.', code="invalid",
                          field="template.parameters.buttons", status=400)
    button_slots = {str(slot["index"]): slot for slot in slots["buttons"] if slot["count"]}
    for index in given_buttons:
        if str(index) not in button_slots:
            raise ApplicationError(f"The template's button {index} takes no parameters.", code="template_parameters",
                              field=f"template.parameters.buttons.{index}")
    components = []
    if header:
        if template.header_type == MessageTemplate.HeaderType.TEXT:
            components.append({"type": "header", "parameters": [{"type": "text", "text": value} for value in header]})
        else:
            if not _is_http_url(header[0]):
                raise ApplicationError(
                    f"The template's {template.header_type} header takes an http(s) URL of the file.",
                    code="invalid_media_url",
                    field="template.parameters.header.0",
                )
            components.append({"type": "header", "parameters": [{"type": "media", "media": header[0]}]})
    if body:
        components.append({"type": "body", "parameters": [{"type": "text", "text": value} for value in body]})
    rendered_buttons = {}
    for index, slot in button_slots.items():
        values = _as_parameter_list(given_buttons.get(index, given_buttons.get(int(index))), field=f"template.parameters.buttons.{index}")
        if len(values) != slot["count"]:
            raise _count_mismatch(f"button {index}", slot["count"], len(values), f"template.parameters.buttons.{index}")
        rendered_buttons[index] = values
        # Plivo's button component: `index` must be a string (an int is refused by the SDK).
        components.append({"type": "button", "sub_type": slot["sub_type"], "index": index,
                           "parameters": [{"type": "text", "text": value} for value in values]})
    rendered = template.render({"header": header, "body": body, "buttons": rendered_buttons})
    structured = {
        "template": {"name": template.name, "language": template.language, "components": components},
        "rendered": {key: rendered[key] for key in ("header", "body", "footer", "buttons")},
    }
    return PreparedContent(kind="template", text=rendered["text"], structured=structured)


def _optional_text(section, key: str, *, field: str, limit: int, what: str) -> str | None:
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ApplicationError(f"{what} is an object.", code="invalid", field=field, status=400)
    value = section.get(key)
    if value in (None, ""):
        return None
    return _require_text(value, field=f"{field}.{key}", limit=limit, what=what)


def _prepare_interactive(interactive: dict | None) -> PreparedContent:
    if not isinstance(interactive, dict):
        raise ApplicationError("An interactive message needs the interactive object.", code="required", field="interactive", status=400)
    kind = interactive.get("type")
    if kind not in ("button", "list", "cta_url"):
        raise ApplicationError("interactive.type must be button (quick replies), list or cta_url.", code="invalid",
                          field="interactive.type", status=400)
    body = _optional_text(interactive.get("body"), "text", field="interactive.body", limit=1024, what="The interactive body text")
    if body is None:
        raise ApplicationError("An interactive message needs interactive.body.text.", code="required", field="interactive.body.text", status=400)
    normalized: dict = {"type": kind, "body": {"text": body}}
    header = interactive.get("header")
    if header:
        if not isinstance(header, dict):
            raise ApplicationError("interactive.header is an object.", code="invalid", field="interactive.header", status=400)
        header_type = header.get("type", "text")
        if header_type == "text":
            normalized["header"] = {"type": "text", "text": _require_text(
                header.get("text"), field="interactive.header.text", limit=60, what="The header text")}
        elif header_type in ("image", "video", "document") and kind != "list":
            if not _is_http_url(header.get("media")):
                raise ApplicationError("A media header needs an http(s) URL in interactive.header.media.", code="invalid_media_url",
                                  field="interactive.header.media")
            normalized["header"] = {"type": header_type, "media": header["media"].strip()}
        else:
            raise ApplicationError(
                "A list message takes only a text header." if kind == "list" else "interactive.header.type must be text, image, video or document.",
                code="invalid", field="interactive.header.type",
            )
    footer = _optional_text(interactive.get("footer"), "text", field="interactive.footer", limit=60, what="The footer text")
    if footer is not None:
        normalized["footer"] = {"text": footer}
    action = interactive.get("action")
    if not isinstance(action, dict):
        raise ApplicationError("An interactive message needs interactive.action.", code="required", field="interactive.action", status=400)
    if kind == "button":
        normalized["action"] = {"buttons": _reply_buttons(action.get("buttons"))}
        text = body
    elif kind == "list":
        normalized["action"] = {"sections": _list_sections(action.get("sections"))}
        text = body
    else:
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or len(buttons) != 1 or not isinstance(buttons[0], dict):
            raise ApplicationError("A cta_url message has exactly one button.", code="invalid", field="interactive.action.buttons")
        title = _require_text(buttons[0].get("title"), field="interactive.action.buttons.0.title", limit=20, what="The button title")
        if not _is_http_url(buttons[0].get("cta_url")):
            raise ApplicationError("The button's cta_url must be an http(s) URL.", code="invalid_url", field="interactive.action.buttons.0.cta_url")
        normalized["action"] = {"buttons": [{"title": title, "cta_url": buttons[0]["cta_url"].strip()}]}
        text = body
    return PreparedContent(kind="interactive", text=text, structured={"interactive": normalized})


def _reply_buttons(buttons) -> list[dict]:
    if not isinstance(buttons, list) or not buttons:
        raise ApplicationError("Quick-reply messages need 1 to 3 buttons.", code="required", field="interactive.action.buttons")
    if len(buttons) > 3:
        raise ApplicationError(f"WhatsApp allows at most 3 reply buttons; {len(buttons)} given. Use a list for more choices.",
                          code="too_many_buttons", field="interactive.action.buttons")
    seen = set()
    return [
        _choice(button, what="button", where=f"interactive.action.buttons.{index}", title_limit=20, id_limit=256,
                seen=seen, duplicate="Button ids must be unique.")
        for index, button in enumerate(buttons)
    ]


def _choice(item, *, what: str, where: str, title_limit: int, id_limit: int, seen: set, duplicate: str) -> dict:
    """One reply button or list row: {"id", "title"}, its id (by default its title) not in `seen`."""
    if not isinstance(item, dict):
        raise ApplicationError(f"Each {what} is an object with id and title.", code="invalid", field=where, status=400)
    title = _require_text(item.get("title"), field=f"{where}.title", limit=title_limit, what=f"A {what} title")
    item_id = _require_text(item.get("id") or title, field=f"{where}.id", limit=id_limit, what=f"A {what} id")
    if item_id in seen:
        raise ApplicationError(duplicate, code="duplicate", field=f"{where}.id")
    seen.add(item_id)
    return {"id": item_id, "title": title}


def _list_sections(sections) -> list[dict]:
    if not isinstance(sections, list) or not sections:
        raise ApplicationError("A list message needs at least one section with rows.", code="required", field="interactive.action.sections")
    if len(sections) > 10:
        raise ApplicationError("A list message has at most 10 sections.", code="too_many_rows", field="interactive.action.sections")
    result, seen, total = [], set(), 0
    for s_index, section in enumerate(sections):
        where = f"interactive.action.sections.{s_index}"
        if not isinstance(section, dict):
            raise ApplicationError("Each section is an object with a title and rows.", code="invalid", field=where, status=400)
        title = _require_text(section.get("title"), field=f"{where}.title", limit=24, what="A section title",
                              required=len(sections) > 1)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise ApplicationError("Each section needs at least one row.", code="required", field=f"{where}.rows")
        total += len(rows)
        if total > 10:
            raise ApplicationError("WhatsApp lists have at most 10 rows in all.", code="too_many_rows", field=f"{where}.rows")
        clean_rows = []
        for r_index, row in enumerate(rows):
            row_where = f"{where}.rows.{r_index}"
            clean = _choice(row, what="row", where=row_where, title_limit=24, id_limit=200, seen=seen,
                            duplicate="Row ids must be unique across the list.")
            description = _require_text(row.get("description"), field=f"{row_where}.description", limit=72,
                                        what="A row description", required=False)
            if description:
                clean["description"] = description
            clean_rows.append(clean)
        clean_section = {"rows": clean_rows}
        if title:
            clean_section = {"title": title, "rows": clean_rows}
        result.append(clean_section)
    return result


def _prepare_location(location: dict | None) -> PreparedContent:
    if not isinstance(location, dict):
        raise ApplicationError("A location message needs the location object.", code="required", field="location", status=400)
    values = {}
    for key, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        raw = location.get(key)
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ApplicationError(f"location.{key} must be a number.", code="invalid", field=f"location.{key}", status=400) from None
        if isinstance(raw, bool) or not low <= number <= high:
            raise ApplicationError(f"location.{key} must be between {low} and {high}.", code="out_of_range", field=f"location.{key}")
        values[key] = raw.strip() if isinstance(raw, str) else repr(raw)
    # WhatsApp (and the SDK's Location) require both; refusing here beats a failure at send time.
    values["name"] = _require_text(location.get("name"), field="location.name", limit=1000, what="The place name")
    values["address"] = _require_text(location.get("address"), field="location.address", limit=1000, what="The address")
    text = values["name"]
    return PreparedContent(kind="location", text=text, structured={"location": values})


# --- queueing -----------------------------------------------------------------------------------
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


def _replay(*, sent_by, idempotency_key: str, phone: str, channel: str, kind: str, text: str) -> Message | None:
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
    if (existing.conversation.contact.phone, existing.conversation.channel, existing.kind) != (phone, channel, kind) \
            or not same_text:
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
    idempotency_key: str = "",
) -> tuple[Message, bool]:
    """Queue one outbound message to `conversation`, or to the number `to` on `channel`
    (creating the contact and conversation when new). Returns (message, created); with an
    `idempotency_key` already used by `sent_by`, returns the first message and sends nothing.
    Raises `ApplicationError` and stores nothing when the message cannot be sent.
    """
    if conversation is not None:
        conversation = Conversation.objects.select_related("contact").get(pk=conversation.pk)
    phone, channel = _destination(to=to, conversation=conversation, channel=channel)
    idempotency_key = (idempotency_key or "").strip()
    replayed = _replay(sent_by=sent_by, idempotency_key=idempotency_key, phone=phone, channel=channel, kind=kind,
                       text=text)
    if replayed is not None:
        return replayed, False
    content = content_prepare(
        channel=channel, kind=kind, text=text, media_urls=media_urls, template=template,
        interactive=interactive, location=location,
    )
    try:
        with transaction.atomic():
            message = _message_queue(conversation=conversation, phone=phone, channel=channel, content=content,
                                     sent_by=sent_by, idempotency_key=idempotency_key)
    except IntegrityError:
        # Two requests with the same key raced; the database let exactly one through.
        replayed = _replay(sent_by=sent_by, idempotency_key=idempotency_key, phone=phone, channel=channel, kind=kind,
                       text=text)
        if replayed is None:
            raise
        return replayed, False
    return message, True


def _message_queue(*, conversation, phone, channel, content: PreparedContent, sent_by, idempotency_key) -> Message:
    if conversation is None:
        contact, _ = contact_get_or_create(phone=phone)
        conversation, _ = conversation_get_or_create(contact=contact, channel=channel)
    contact = Contact.objects.get(pk=conversation.contact_id)
    send_refuse_if_suppressed(contact=contact, channel=channel)  # privacy: erased/suppressed numbers (issue 17)
    if contact.is_opted_out(channel):
        raise ApplicationError(
            f"{contact} opted out of {conversation.get_channel_display()} messages; nothing is sent until they opt back in.",
            code="opted_out",
            field="to",
        )
    if content.kind != "template" and not conversation.window_is_open():
        raise ApplicationError(
            "WhatsApp's 24-hour window for this customer is closed (their last message is more than 24 hours old, "
            "or they never wrote). Send an approved template instead; free-form messages are possible again once they reply.",
            code="window_closed",
            field="kind",
        )
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
    OutboundJob.objects.create(message=message, next_attempt_at=message.created_at)
    # A plain INSERT in this transaction (django-tasks-db): the trigger commits with the job.
    send_outbound_job.enqueue(message.pk)
    message.conversation = conversation_record_message(conversation=conversation, message=message, inbound=False)
    events.broadcast_on_commit(events.message_created_event(message))
    return message


@task(queue_name=OUTBOUND_QUEUE)
def send_outbound_job(message_id: int) -> str | None:
    """The task a worker runs for a queued message: claim its job, make one request."""
    return outbound_job_process(message_id=message_id)


# --- sending ------------------------------------------------------------------------------------
def worker_name() -> str:
    """Who is sending, for `OutboundJob.claimed_by`: the worker running on this thread."""
    return getattr(_local, "worker_id", None) or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def worker_name_set(worker_id: str | None) -> None:
    _local.worker_id = worker_id


def outbound_job_claim(*, message_id: int, worker_id: str | None = None) -> OutboundJob | None:
    """Take the due, pending job of `message_id` with a lease; None if it is not claimable
    (already claimed by another worker, not yet due, or finished). The conditional UPDATE
    makes exactly one of several racing workers win."""
    now = timezone.now()
    claimed = OutboundJob.objects.filter(
        message_id=message_id, state=OutboundJob.State.PENDING, next_attempt_at__lte=now
    ).update(
        state=OutboundJob.State.IN_FLIGHT,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS),
        claimed_by=(worker_id or worker_name())[:100],
        updated_at=now,
    )
    if not claimed:
        return None
    return OutboundJob.objects.select_related("message__conversation__contact").get(message_id=message_id)


def outbound_job_process(*, message_id: int, worker_id: str | None = None) -> str | None:
    """Claim the job of `message_id` and make one send attempt; None if not claimable."""
    with transaction.atomic():
        job = outbound_job_claim(message_id=message_id, worker_id=worker_id)
        if job is None:
            return None
        attempt = _attempt_start(job=job)
    return _attempt_finish(job=job, attempt=attempt)


def _attempt_start(*, job: OutboundJob, requested_by=None) -> SendAttempt:
    # The attempt row is committed BEFORE the request: if this process dies during the
    # request, the sweeper sees an unfinished attempt and knows the send may have gone out.
    return SendAttempt.objects.create(message=job.message, number=job.attempts, requested_by=requested_by)


def _attempt_finish(*, job: OutboundJob, attempt: SendAttempt) -> str:
    """Make the request for a started attempt (or refuse it) and record the outcome."""
    refusal = _refusal_at_send_time(job.message)
    if refusal is not None:
        outcome = SendOutcome(kind="permanent", reason=refusal, detail="refused before sending", error_code=ERROR_REFUSED)
    else:
        outcome = plivo_send(job.message)
    _outcome_record(job=job, attempt=attempt, outcome=outcome)
    return outcome.kind


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


@dataclass
class SendOutcome:
    kind: str  # accepted | transient | permanent | ambiguous
    reason: str = ""  # plain language, shown to the agent
    detail: str = ""  # technical, kept on the SendAttempt
    http_status: int | None = None
    plivo_message_uuid: str | None = None
    retry_after: float | None = None
    error_code: str = ""


def _point_sdk_at_api() -> None:
    """The SDK has no base-URL option: it reads this module global before every request,
    so setting it here (the only place) redirects every send to PLIVO_API_BASE_URL."""
    plivo.rest.client.PLIVO_API_BASE_URI = f"{settings.PLIVO_API_BASE_URL.rstrip('/')}/v1/Account"


def _remember_response(response, *args, **kwargs):
    _local.last_response = response


def _plivo_client():
    """One SDK client per thread (requests sessions are not thread-safe), rebuilt when the
    credentials or timeout change."""
    key = (settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN, float(settings.PLIVO_API_TIMEOUT_SECONDS))
    if getattr(_local, "client_key", None) != key:
        client = plivo.RestClient(key[0], key[1], timeout=key[2])
        # The SDK's exceptions carry no status code: remember the raw response instead.
        client.session.hooks["response"].append(_remember_response)
        _local.client, _local.client_key = client, key
    return _local.client


def status_callback_url(message: Message) -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/plivo/status/?ref={message.pk}"


def plivo_request(message: Message) -> dict:
    """The keyword arguments of `client.messages.create` for `message` (SDK objects included)."""
    conversation = message.conversation
    whatsapp = conversation.channel == Channel.WHATSAPP
    kwargs = {
        "src": settings.PLIVO_WHATSAPP_NUMBER if whatsapp else settings.PLIVO_SMS_NUMBER,
        "dst": conversation.contact.phone,  # a str: a list would be sent as its repr
        "type_": "whatsapp" if whatsapp else ("mms" if message.kind == "media" else "sms"),
        "url": status_callback_url(message),
        "method": "POST",
        "log": "true",  # a str: the SDK refuses log=True
    }
    if message.kind in ("text", "media") and message.text:
        kwargs["text"] = message.text
    if message.kind == "media":
        kwargs["media_urls"] = [item["url"] for item in message.media]
    elif message.kind == "template":
        call = message.structured["template"]
        # Components as dicts: the SDK keeps them verbatim (Component objects break its JSON).
        kwargs["template"] = Template(name=call["name"], language=call["language"], components=call["components"])
    elif message.kind == "interactive":
        kwargs["interactive"] = Interactive(**message.structured["interactive"])
    elif message.kind == "location":
        kwargs["location"] = Location(**message.structured["location"])
    return kwargs


def plivo_send(message: Message) -> SendOutcome:
    """Make one request to Plivo's Message API and classify what happened."""
    if not settings.PUBLIC_BASE_URL:
        return SendOutcome(kind="permanent", error_code=ERROR_REFUSED, detail="PUBLIC_BASE_URL is empty",
                           reason="Not sent: Parley's PUBLIC_BASE_URL is not configured, so Plivo could not report delivery. "
                                  "An administrator must set it; then retry.")
    _point_sdk_at_api()
    _local.last_response = None
    try:
        kwargs = plivo_request(message)
    except plivo_exceptions.PlivoRestError as exc:  # the SDK's own argument checks
        return _classify_plivo_error(exc, None)
    except (KeyError, TypeError, ValueError) as exc:  # stored content that is not ours (edited by hand?)
        return SendOutcome(kind="permanent", error_code=ERROR_REFUSED, detail=f"{type(exc).__name__}: {exc}"[:300],
                           reason="Not sent: the stored message content is damaged; send it as a new message.")
    try:
        response = _plivo_client().messages.create(**kwargs)
    except plivo_exceptions.PlivoRestError as exc:
        return _classify_plivo_error(exc, getattr(_local, "last_response", None))
    except requests.exceptions.RequestException as exc:
        return _classify_transport_error(exc)
    except Exception as exc:  # anything else once the request may be on its way
        logger.exception("unexpected error sending message %s", message.pk)
        return SendOutcome(kind="ambiguous", detail=f"{type(exc).__name__}: {str(exc)[:300]}",
                           reason="Sending failed unexpectedly, so the message may or may not have been sent. "
                                  "Waiting for Plivo's delivery report before deciding.")
    uuids = getattr(response, "message_uuid", None) or []
    if not uuids:
        return SendOutcome(kind="ambiguous", detail=f"accepted without a message_uuid: {str(response)[:300]}",
                           reason="Plivo answered without a message id; the message may have been sent.")
    status = getattr(_local.last_response, "status_code", None)
    return SendOutcome(kind="accepted", plivo_message_uuid=str(uuids[0]), http_status=status,
                       detail=f"accepted as {uuids[0]}")  # kept: an agent's retry replaces the message's uuid


def _plivo_error_text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, (list, tuple)):
        detail = "; ".join(str(item) for item in detail)
    return str(detail)[:300]


def _retry_after_seconds(response) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _classify_plivo_error(exc: Exception, response) -> SendOutcome:
    text = _plivo_error_text(exc)
    if response is None:
        # Raised by the SDK itself before any request (its argument validators, credentials).
        if isinstance(exc, plivo_exceptions.AuthenticationError):
            reason = "Not sent: Plivo credentials are not configured correctly (PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN)."
        else:
            reason = f"Not sent: the message could not be built for Plivo ({text})."
        return SendOutcome(kind="permanent", reason=reason, detail=f"{type(exc).__name__}: {text}", error_code=ERROR_REFUSED)
    status = response.status_code
    detail = f"HTTP {status} {type(exc).__name__}: {text}"
    if status in (408, 425, 429) or status >= 500:
        what = "rate limited by Plivo (HTTP 429)" if status == 429 else f"Plivo was unavailable (HTTP {status})"
        return SendOutcome(kind="transient", http_status=status, detail=detail, reason=what,
                           retry_after=_retry_after_seconds(response), error_code=ERROR_UNAVAILABLE)
    reasons = {
        400: f"Plivo refused the message as invalid: {text}.",
        401: "Plivo refused Parley's credentials (HTTP 401). An administrator must check PLIVO_AUTH_ID and "
             "PLIVO_AUTH_TOKEN; then retry the message.",
        403: "Plivo does not allow this account to send to this destination (HTTP 403, e.g. geo permissions). "
             "An administrator must enable it in Plivo; then retry.",
        404: "Plivo did not find the account or sender number (HTTP 404). An administrator must check the Plivo "
             "settings; then retry.",
    }
    reason = reasons.get(status, f"Plivo refused the message (HTTP {status}): {text}.")
    return SendOutcome(kind="permanent", http_status=status, detail=detail, reason=reason, error_code=f"http_{status}")


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True when the request provably never left: no connection could be made."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL,
                        requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError, NameResolutionError, ConnectionRefusedError))
    return False


def _classify_transport_error(exc: requests.exceptions.RequestException) -> SendOutcome:
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    if _never_sent(exc):
        return SendOutcome(kind="transient", detail=detail, reason="Parley could not connect to Plivo",
                           error_code=ERROR_UNAVAILABLE)
    # Read timeout or a connection dropped after the request went out: Plivo may have
    # accepted it, and it has no idempotency key, so a resend could text the customer twice.
    return SendOutcome(kind="ambiguous", detail=detail,
                       reason="Plivo did not answer in time, so the message may or may not have been sent. "
                              "Waiting for Plivo's delivery report before deciding.")


def retry_delay_seconds(attempt_number: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base·2^(n-1)·[1, 2). With the defaults (20 s, 5
    attempts) the four waits add up to between 5 and 10 minutes."""
    delay = backoff_seconds(attempt_number, base=float(settings.OUTBOUND_RETRY_BASE_SECONDS), jitter=True)
    if retry_after:
        delay = max(delay, min(retry_after, 300.0))
    return delay


def _attempts_this_round(job: OutboundJob) -> int:
    """Attempts counted against OUTBOUND_MAX_ATTEMPTS: an agent's retry starts a new round."""
    last_manual = SendAttempt.objects.filter(message_id=job.message_id, requested_by__isnull=False).aggregate(n=Max("number"))["n"]
    return job.attempts - (last_manual - 1 if last_manual else 0)


def _outcome_record(*, job: OutboundJob, attempt: SendAttempt, outcome: SendOutcome) -> None:
    now = timezone.now()
    with transaction.atomic():
        SendAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now, outcome=_ATTEMPT_OUTCOMES[outcome.kind], http_status=outcome.http_status,
            detail=(outcome.detail or outcome.reason)[:2000],
        )
        # Another party may have taken over the job while this request ran (lease expired and
        # the sweeper judged it): an acceptance is a fact and is recorded anyway; anything else
        # only if this attempt still holds the job.
        still_ours = OutboundJob.objects.filter(pk=job.pk, state=OutboundJob.State.IN_FLIGHT, attempts=job.attempts)
        message_id = job.message_id
        if outcome.kind == "accepted":
            uuid_lock(outcome.plivo_message_uuid)
            OutboundJob.objects.filter(pk=job.pk).update(
                state=OutboundJob.State.ACCEPTED, lease_expires_at=None, last_error="", updated_at=now)
            not_sending_yet = Q(status_rank__lt=STATUS_RANK[MessageStatus.SENDING])
            # A report matched by our ref may already have failed it: keep that failure's reason.
            not_failed = Q(status_rank__lt=STATUS_RANK[MessageStatus.FAILED])
            Message.objects.filter(pk=message_id).update(
                plivo_message_uuid=outcome.plivo_message_uuid,
                status=Case(When(not_sending_yet, then=Value(MessageStatus.SENDING.value)), default=F("status")),
                unconfirmed_since=Case(When(not_failed, then=Value(None)), default=F("unconfirmed_since")),
                error_code=Case(When(not_failed, then=Value("")), default=F("error_code")),
                error_message=Case(When(not_failed, then=Value("")), default=F("error_message")),
                updated_at=now,
            )
            message = _message_for_event(message_id)
            events.broadcast_on_commit(events.message_updated_event(message))
            _attach_early_reports(message)
            return
        if not still_ours.exists():
            return
        round_attempts = _attempts_this_round(job)
        if outcome.kind == "transient" and round_attempts < settings.OUTBOUND_MAX_ATTEMPTS:
            delay = retry_delay_seconds(round_attempts, retry_after=outcome.retry_after)
            next_at = now + timedelta(seconds=delay)
            still_ours.update(state=OutboundJob.State.PENDING, next_attempt_at=next_at, lease_expires_at=None,
                              last_error=outcome.detail[:2000], updated_at=now)
            Message.objects.filter(pk=message_id).update(
                error_code=outcome.error_code,
                error_message=f"{outcome.reason}; retrying in {max(1, round(delay))} s "
                              f"(attempt {round_attempts + 1} of {settings.OUTBOUND_MAX_ATTEMPTS}).",
                updated_at=now)
            send_outbound_job.using(run_after=next_at).enqueue(message_id)
            events.broadcast_on_commit(events.message_updated_event(_message_for_event(message_id)))
        elif outcome.kind == "transient":
            still_ours.update(state=OutboundJob.State.FAILED, lease_expires_at=None, last_error=outcome.detail[:2000], updated_at=now)
            _message_fail(message_id, error_code=outcome.error_code,
                          reason=f"Not sent: {outcome.reason} on all {round_attempts} attempts. "
                                 "Retry it once Plivo is reachable again.")
        elif outcome.kind == "permanent":
            still_ours.update(state=OutboundJob.State.FAILED, lease_expires_at=None, last_error=outcome.detail[:2000], updated_at=now)
            _message_fail(message_id, error_code=outcome.error_code, reason=outcome.reason)
        else:
            still_ours.update(state=OutboundJob.State.UNCONFIRMED, lease_expires_at=None,
                              last_error=outcome.detail[:2000], updated_at=now)
            _message_mark_unconfirmed(message_id, reason=outcome.reason, now=now)


_ATTEMPT_OUTCOMES = {
    "accepted": SendAttempt.Outcome.ACCEPTED,
    "transient": SendAttempt.Outcome.TRANSIENT_ERROR,
    "permanent": SendAttempt.Outcome.PERMANENT_ERROR,
    "ambiguous": SendAttempt.Outcome.AMBIGUOUS,
}


def _message_for_event(message_id: int) -> Message:
    return Message.objects.select_related("sent_by", "reply_to").get(pk=message_id)


def _message_fail(message_id: int, *, error_code: str, reason: str) -> None:
    now = timezone.now()
    changed = Message.objects.filter(pk=message_id, status_rank__lt=STATUS_RANK[MessageStatus.FAILED]).update(
        status=MessageStatus.FAILED, failed_at=now, error_code=error_code[:32], error_message=reason[:500],
        unconfirmed_since=None, updated_at=now)
    if changed:
        events.broadcast_on_commit(events.message_updated_event(_message_for_event(message_id)))


def _message_mark_unconfirmed(message_id: int, *, reason: str, now) -> None:
    changed = Message.objects.filter(pk=message_id, status_rank__lt=STATUS_RANK[MessageStatus.SENT]).update(
        unconfirmed_since=now, error_code=ERROR_UNCONFIRMED, error_message=reason[:500], updated_at=now)
    if changed:
        events.broadcast_on_commit(events.message_updated_event(_message_for_event(message_id)))


def _attach_early_reports(message: Message) -> None:
    """Apply delivery reports that arrived before the uuid was stored (parked unmatched)."""
    status_events_attach(message=message)


# --- recovery (run by every worker's sweeper) ---------------------------------------------------
def outbound_sweep() -> dict:
    """Make the queue whole again after crashes and waits; safe to run from many workers.

    - in_flight jobs whose lease expired (their worker died): if the request never started,
      the job is pending again; if it may have reached Plivo, it is unconfirmed (no resend);
    - unconfirmed jobs: confirmed once a delivery report arrived; after
      OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS without one the message fails ("may not have been sent");
    - pending jobs left due for a whole lease (their task was lost) get a fresh task.
    """
    now = timezone.now()
    counts = {"released": 0, "unconfirmed": 0, "confirmed": 0, "timed_out": 0, "requeued": 0}

    def count(result):
        if result:
            counts[result] += 1

    _each_locked(OutboundJob.objects.filter(state=OutboundJob.State.IN_FLIGHT, lease_expires_at__lt=now),
                 lambda job: count(_lease_expired(job, now=now)))
    _each_locked(OutboundJob.objects.filter(state=OutboundJob.State.UNCONFIRMED),
                 lambda job: count(_unconfirmed_check(job, now=now)))
    overdue = now - timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS)
    overdue_ids = list(OutboundJob.objects.filter(state=OutboundJob.State.PENDING, next_attempt_at__lt=overdue)
                       .order_by("pk").values_list("message_id", flat=True)[:1000])
    if overdue_ids:
        # A long backlog is not a lost task: only jobs without a queued or running task.
        lost = set(overdue_ids) - _messages_with_waiting_task(overdue_ids)
        _each_locked(OutboundJob.objects.filter(state=OutboundJob.State.PENDING, message_id__in=lost),
                     lambda job: count(_requeue(job, now=now)))
    return counts


def _each_locked(queryset, handle, batch: int = 200) -> None:
    """Call `handle(job)` for each job of `queryset`, one transaction per job holding that
    row's lock (PostgreSQL skips rows another sweeper holds; SQLite serialises writers)."""
    for pk in list(queryset.order_by("pk").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            job = queryset.select_for_update(skip_locked=True).filter(pk=pk).first()
            if job is not None:
                handle(job)


def _requeue(job: OutboundJob, *, now) -> str | None:
    if OutboundJob.objects.filter(pk=job.pk, state=OutboundJob.State.PENDING).update(next_attempt_at=now, updated_at=now):
        send_outbound_job.enqueue(job.message_id)
        return "requeued"
    return None


def _messages_with_waiting_task(message_ids: list[int]) -> set[int]:
    """Those of `message_ids` whose send task is still queued or running (django-tasks-db;
    with another Tasks backend the sweeper cannot see the queue and assumes none)."""
    from django_tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    backend = task_backends[send_outbound_job.backend]
    if not isinstance(backend, DatabaseBackend):
        return set()
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        backend_name=backend.alias, queue_name=OUTBOUND_QUEUE, task_path=send_outbound_job.module_path,
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING], args_kwargs__args__0__in=message_ids,
    ).values_list("args_kwargs", flat=True)
    return {args_kwargs["args"][0] for args_kwargs in waiting}


def _lease_expired(job: OutboundJob, *, now) -> str:
    attempt = SendAttempt.objects.filter(message_id=job.message_id, number=job.attempts).first()
    jobs = OutboundJob.objects.filter(pk=job.pk, state=OutboundJob.State.IN_FLIGHT, attempts=job.attempts)
    if attempt is None:
        # Claimed, but the worker died before its request started: nothing went out.
        if jobs.update(state=OutboundJob.State.PENDING, attempts=F("attempts") - 1, next_attempt_at=now,
                       lease_expires_at=None, claimed_by="", updated_at=now):
            send_outbound_job.enqueue(job.message_id)
        return "released"
    if attempt.finished_at is None:
        SendAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now, outcome=SendAttempt.Outcome.AMBIGUOUS,
            detail=f"the worker {job.claimed_by} stopped during the request (lease expired)")
    if jobs.update(state=OutboundJob.State.UNCONFIRMED, lease_expires_at=None,
                   last_error="worker stopped during the request", updated_at=now):
        _message_mark_unconfirmed(job.message_id, now=now, reason=(
            "The sending worker stopped while talking to Plivo, so the message may or may not have been sent. "
            "Waiting for Plivo's delivery report before deciding."))
    return "unconfirmed"


def _unconfirmed_check(job: OutboundJob, *, now) -> str | None:
    message = Message.objects.get(pk=job.message_id)
    jobs = OutboundJob.objects.filter(pk=job.pk, state=OutboundJob.State.UNCONFIRMED)
    if message.plivo_message_uuid or message.unconfirmed_since is None or message.status_rank >= STATUS_RANK[MessageStatus.SENT]:
        # A delivery report (matched by our ref) answered the question.
        jobs.update(state=OutboundJob.State.ACCEPTED, last_error="", updated_at=now)
        return "confirmed"
    deadline = now - timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS)
    if message.unconfirmed_since <= deadline and jobs.update(state=OutboundJob.State.FAILED, updated_at=now):
        minutes = max(1, round(settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS / 60))
        _message_fail(job.message_id, error_code=ERROR_UNCONFIRMED, reason=(
            f"Plivo never confirmed this message and no delivery report arrived within {minutes} min, so it may not "
            "have been sent. Check with the customer before sending it again (Retry sends it again)."))
        return "timed_out"
    return None


# --- an agent's retry -------------------------------------------------------------------------
def message_retry(*, message: Message, requested_by) -> Message:
    """Send a failed outbound message again, now, on behalf of `requested_by`; the attempt
    is recorded with them. Transient trouble during it continues with the normal backoff."""
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if not locked.is_outbound:
            raise ApplicationError("Only messages Parley sent can be retried.", code="not_retryable", status=409)
        if locked.status not in RETRYABLE_FAILURE_STATUSES:
            raise ApplicationError(
                f"Only failed messages can be retried; this one is {locked.get_status_display().lower()}.",
                code="not_retryable", status=409)
        job, _ = OutboundJob.objects.get_or_create(message=locked)
        if job.state in (OutboundJob.State.IN_FLIGHT, OutboundJob.State.PENDING):
            raise ApplicationError("This message is already being sent.", code="not_retryable", status=409)
        # The old Plivo uuid stays in the attempt history; the new send gets a new one.
        Message.objects.filter(pk=locked.pk).update(
            status=MessageStatus.QUEUED, plivo_message_uuid=None, status_sequence=None, error_code="",
            error_message="", unconfirmed_since=None, failed_at=None, sent_at=None, delivered_at=None,
            read_at=None, updated_at=now)
        OutboundJob.objects.filter(pk=job.pk).update(
            state=OutboundJob.State.IN_FLIGHT, attempts=F("attempts") + 1, next_attempt_at=now,
            lease_expires_at=now + timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS),
            claimed_by=f"retry by {requested_by}"[:100], updated_at=now)
        events.broadcast_on_commit(events.message_updated_event(_message_for_event(locked.pk)))
        job = OutboundJob.objects.select_related("message__conversation__contact").get(pk=job.pk)
        attempt = _attempt_start(job=job, requested_by=requested_by)
    _attempt_finish(job=job, attempt=attempt)
    return _message_for_event(message.pk)

