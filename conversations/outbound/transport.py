"""The Plivo transport: the only code that calls Plivo's Message API (through the official SDK).

`plivo_send()` makes one `messages.create` request and classifies what happened;
`plivo_message_get()` asks Plivo what became of a message (`messages.get`). Neither waits
for the rate limiter nor touches the database: the callers (`service.py`, `recovery.py`)
take their turn from `pacing.py` first, so every request is counted.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from enum import StrEnum

import plivo
import plivo.rest.client
import requests
from django.conf import settings
from plivo import exceptions as plivo_exceptions
from plivo.utils.interactive import Interactive
from plivo.utils.location import Location
from plivo.utils.template import Template
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from conversations.models import Channel, Message
from conversations.services.attachments import UPLOAD_EXTENSIONS
from conversations.plivo_errors import (
    ERROR_RATE_LIMITED,
    ERROR_REFUSED,
    ERROR_UNAVAILABLE,
    http_error_code,
    normalize_error_code,
)

logger = logging.getLogger(__name__)

_local = threading.local()  # per thread: the SDK client and its last HTTP response
RATE_LIMITED_STATUS = 429


class Result(StrEnum):
    """What one send request came to."""

    ACCEPTED = "accepted"  # Plivo took it: we have its uuid
    TRANSIENT = "transient"  # not sent (5xx, no connection): retried with backoff
    THROTTLED = "throttled"  # not sent (429, the account's API limit): sent again when the limiter allows
    PERMANENT = "permanent"  # refused (by Plivo, or by Parley before sending): failed at once
    AMBIGUOUS = "ambiguous"  # the request may have reached Plivo: never resent automatically


@dataclass
class SendOutcome:
    kind: Result
    reason: str = ""  # plain language, shown to the agent
    detail: str = ""  # technical, kept on the SendAttempt
    http_status: int | None = None
    plivo_message_uuid: str | None = None
    retry_after: float | None = None
    error_code: str = ""


@dataclass
class MessageLookup:
    """What Plivo's `GET Message/{uuid}/` said about one of our sends."""

    found: bool  # Plivo answered with the message
    unknown: bool = False  # Plivo answered 404: it has no such message
    state: str = ""  # Plivo's message_state (queued, sent, delivered, undelivered, failed, read, rejected)
    error_code: str = ""
    updated_at: datetime | None = None  # message_updated_time
    raw: dict | None = None
    detail: str = ""  # why the lookup did not answer (neither found nor unknown)
    http_status: int | None = None
    retry_after: float | None = None


def sender_for(channel: str) -> str:
    """The number a message on `channel` goes out from."""
    return settings.PLIVO_WHATSAPP_NUMBER if channel == Channel.WHATSAPP else settings.PLIVO_SMS_NUMBER


def status_callback_url(message: Message) -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/plivo/status/?ref={message.pk}"


def plivo_request(message: Message, media_ids: dict | None = None) -> dict:
    """The keyword arguments of `client.messages.create` for `message` (SDK objects included).
    `media_ids`: Plivo's Media API id of each of its attachments (by attachment id)."""
    conversation = message.conversation
    whatsapp = conversation.channel == Channel.WHATSAPP
    kwargs = {
        "src": sender_for(conversation.channel),
        "dst": conversation.contact.phone,  # a str: a list would be sent as its repr
        "type_": "whatsapp" if whatsapp else ("mms" if message.kind == "media" else "sms"),
        "url": status_callback_url(message),
        "method": "POST",
        "log": "true",  # a str: the SDK refuses log=True
    }
    if message.kind in ("text", "media") and message.text:
        kwargs["text"] = message.text
    if message.kind == "media":
        urls = [item["url"] for item in message.media if not item.get("attachment_id")]
        uploaded = [(media_ids or {})[item["attachment_id"]] for item in message.media if item.get("attachment_id")]
        if urls:
            kwargs["media_urls"] = urls
        if uploaded:
            kwargs["media_ids"] = uploaded
    elif message.kind == "template":
        call = message.structured["template"]
        # Components as dicts: the SDK keeps them verbatim (Component objects break its JSON).
        kwargs["template"] = Template(name=call["name"], language=call["language"], components=call["components"])
    elif message.kind == "interactive":
        kwargs["interactive"] = Interactive(**message.structured["interactive"])
    elif message.kind == "location":
        kwargs["location"] = Location(**message.structured["location"])
    return kwargs


def plivo_send(message: Message, media_ids: dict | None = None) -> SendOutcome:
    """Make one request to Plivo's Message API and classify what happened."""
    if not settings.PUBLIC_BASE_URL:
        return SendOutcome(kind=Result.PERMANENT, error_code=ERROR_REFUSED, detail="PUBLIC_BASE_URL is empty",
                           reason="Not sent: Parley's PUBLIC_BASE_URL is not configured, so Plivo could not report delivery. "
                                  "An administrator must set it; then retry.")
    try:
        kwargs = plivo_request(message, media_ids)
    except plivo_exceptions.PlivoRestError as exc:  # the SDK's own argument checks
        return _classify_plivo_error(exc, None)
    except (KeyError, TypeError, ValueError) as exc:  # stored content that is not ours (edited by hand?)
        return SendOutcome(kind=Result.PERMANENT, error_code=ERROR_REFUSED, detail=f"{type(exc).__name__}: {exc}"[:300],
                           reason="Not sent: the stored message content is damaged; send it as a new message.")
    client = _plivo_client()
    try:
        response = client.messages.create(**kwargs)
    except plivo_exceptions.PlivoRestError as exc:
        return _classify_plivo_error(exc, _local.last_response)
    except requests.exceptions.RequestException as exc:
        return _classify_transport_error(exc)
    except Exception as exc:  # anything else once the request may be on its way
        logger.exception("unexpected error sending message %s", message.pk)
        return SendOutcome(kind=Result.AMBIGUOUS, detail=f"{type(exc).__name__}: {str(exc)[:300]}",
                           reason="Sending failed unexpectedly, so the message may or may not have been sent. "
                                  "Waiting for Plivo's delivery report before deciding.")
    uuids = getattr(response, "message_uuid", None) or []
    if not uuids:
        return SendOutcome(kind=Result.AMBIGUOUS, detail=f"accepted without a message_uuid: {str(response)[:300]}",
                           reason="Plivo answered without a message id; the message may have been sent.")
    status = getattr(_local.last_response, "status_code", None)
    return SendOutcome(kind=Result.ACCEPTED, plivo_message_uuid=str(uuids[0]), http_status=status,
                       detail=f"accepted as {uuids[0]}")  # kept: an agent's retry replaces the message's uuid


def plivo_media_upload(media) -> tuple[str | None, SendOutcome | None]:
    """Upload one stored attachment (a `MediaFile`) with Plivo's Media API: (media_id, None),
    or (None, why not). No message goes out here, so any failure may simply be tried again."""
    extension = UPLOAD_EXTENSIONS.get(media.content_type)
    if extension is None:
        return None, SendOutcome(kind=Result.PERMANENT, error_code=ERROR_REFUSED, detail=f"no upload type for {media.content_type}",
                                 reason=f"Not sent: Plivo's Media API does not take {media.content_type} files.")
    client = _plivo_client()
    with tempfile.TemporaryDirectory(prefix="parley-upload-") as folder:
        # The SDK uploads local paths and takes the content type from the extension.
        path = os.path.join(folder, f"attachment-{media.pk}.{extension}")
        try:
            with media.file.open("rb") as source, open(path, "wb") as copy:
                shutil.copyfileobj(source, copy)
        except OSError as exc:
            return None, SendOutcome(kind=Result.TRANSIENT, error_code=ERROR_UNAVAILABLE, detail=f"storage: {exc}"[:300],
                                     reason="The attachment could not be read from Parley's storage")
        try:
            # The SDK print()s the temporary path; redirect_stdout would swap sys.stdout for every
            # thread at once (and concurrent uploads could leave it swapped), so it is let through.
            response = client.media.upload([path])
        except plivo_exceptions.PlivoRestError as exc:
            outcome = _classify_plivo_error(exc, _local.last_response)
        except requests.exceptions.RequestException as exc:
            outcome = _classify_transport_error(exc)
        else:
            media_id = _uploaded_media_id(response)
            if media_id:
                return media_id, None
            outcome = SendOutcome(kind=Result.TRANSIENT, error_code=ERROR_UNAVAILABLE,
                                  detail=f"upload answered without a media_id: {str(response)[:200]}",
                                  reason="Plivo's Media API did not confirm the upload")
    if outcome.kind == Result.AMBIGUOUS:
        outcome.kind = Result.TRANSIENT  # an upload sends nothing: trying again is safe
    outcome.reason = f"{outcome.reason} (uploading the attachment)" if outcome.reason else outcome.reason
    return None, outcome


def _uploaded_media_id(response) -> str:
    """Plivo answers an upload with one item per file under `objects`."""
    items = getattr(response, "objects", None) or ([response] if response is not None else [])
    for item in items:
        media_id = getattr(item, "media_id", None) or (item.get("media_id") if isinstance(item, dict) else None)
        if media_id:
            return str(media_id)
    return ""


def plivo_message_get(uuid: str) -> MessageLookup:
    """Ask Plivo for one message (`GET Message/{uuid}/`)."""
    client = _plivo_client()
    try:
        client.messages.get(uuid)
    except plivo_exceptions.ResourceNotFoundError:
        return MessageLookup(found=False, unknown=True, http_status=404)
    except plivo_exceptions.PlivoRestError as exc:
        response = _local.last_response
        return MessageLookup(found=False, detail=f"{type(exc).__name__}: {_plivo_error_text(exc)}",
                             http_status=getattr(response, "status_code", None), retry_after=_retry_after_seconds(response))
    except requests.exceptions.RequestException as exc:
        return MessageLookup(found=False, detail=f"{type(exc).__name__}: {str(exc)[:300]}")
    try:
        raw = _local.last_response.json()
    except ValueError:
        return MessageLookup(found=False, detail="the answer was not JSON", http_status=_local.last_response.status_code)
    return MessageLookup(
        found=True, state=str(raw.get("message_state") or "").lower(), error_code=normalize_error_code(raw.get("error_code")),
        updated_at=_plivo_time(raw.get("message_updated_time") or raw.get("message_time")), raw=raw,
        http_status=_local.last_response.status_code,
    )


def _plivo_time(value) -> datetime | None:
    """Plivo's "2024-08-21 18:28:51.94772+05:30" (offset optional: UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def _point_sdk_at_api() -> None:
    """The SDK has no base-URL option: it reads this module global before every request,
    so setting it here (the only place) redirects every request to PLIVO_API_BASE_URL."""
    plivo.rest.client.PLIVO_API_BASE_URI = f"{settings.PLIVO_API_BASE_URL.rstrip('/')}/v1/Account"


def _remember_response(response, *args, **kwargs):
    _local.last_response = response


def _plivo_client():
    """One SDK client per thread (requests sessions are not thread-safe), rebuilt when the
    credentials or timeout change."""
    _point_sdk_at_api()
    _local.last_response = None
    key = (settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN, float(settings.PLIVO_API_TIMEOUT_SECONDS))
    if getattr(_local, "client_key", None) != key:
        client = plivo.RestClient(key[0], key[1], timeout=key[2])
        # The SDK's exceptions carry no status code: remember the raw response instead.
        client.session.hooks["response"].append(_remember_response)
        client.multipart_session.hooks["response"].append(_remember_response)
        _local.client, _local.client_key = client, key
    return _local.client


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
        return SendOutcome(kind=Result.PERMANENT, reason=reason, detail=f"{type(exc).__name__}: {text}", error_code=ERROR_REFUSED)
    status = response.status_code
    detail = f"HTTP {status} {type(exc).__name__}: {text}"
    if status == RATE_LIMITED_STATUS:
        return SendOutcome(kind=Result.THROTTLED, http_status=status, detail=detail, reason="Plivo's rate limit was reached",
                           retry_after=_retry_after_seconds(response), error_code=ERROR_RATE_LIMITED)
    if status in (408, 425) or status >= 500:
        return SendOutcome(kind=Result.TRANSIENT, http_status=status, detail=detail,
                           reason=f"Plivo was unavailable (HTTP {status})", retry_after=_retry_after_seconds(response),
                           error_code=ERROR_UNAVAILABLE)
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
    return SendOutcome(kind=Result.PERMANENT, http_status=status, detail=detail, reason=reason, error_code=http_error_code(status))


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
        return SendOutcome(kind=Result.TRANSIENT, detail=detail, reason="Parley could not connect to Plivo",
                           error_code=ERROR_UNAVAILABLE)
    # Read timeout or a connection dropped after the request went out: Plivo may have
    # accepted it, and it has no idempotency key, so a resend could text the customer twice.
    return SendOutcome(kind=Result.AMBIGUOUS, detail=detail,
                       reason="Plivo did not answer in time, so the message may or may not have been sent. "
                              "Waiting for Plivo's delivery report before deciding.")
