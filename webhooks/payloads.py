"""Plivo webhook bodies parsed into plain dataclasses.

Plivo posts form fields by default; JSON bodies are accepted too. Field names for WhatsApp
extras (button and list replies, reply context, location, media) are not fully documented,
so lookups are defensive: `Button.Payload` may arrive as a flat dotted form key, as a nested
JSON object, or as a form field holding a JSON string, in any spelling case
(`ListReply`, `list_reply`, `listReply`). An unrecognised message type is still stored, as an
"unsupported" message carrying its raw fields; it is never dropped.
"""

import json
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from urllib.parse import urlsplit

from django.conf import settings

from conversations.models import Channel, Message
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.plivo_errors import normalize_error_code
from messaging_site.errors import ApplicationError
from webhooks.bodies import JSON_MAX_DEPTH

UUID_MAX_LENGTH = 64  # Message.plivo_message_uuid / MessageStatusEvent.plivo_message_uuid
STATUS_MAX_LENGTH = 16
ERROR_CODE_MAX_LENGTH = 32


def payload_refused(message: str, *, field: str | None = None, code: str = "invalid") -> ApplicationError:
    """A signed request that cannot be stored (400); `field` names the Plivo field at fault."""
    return ApplicationError(message, field=field, code=code, status=400)


def _norm(segment: str) -> str:
    return re.sub(r"[_\-\s]", "", segment).lower()


class Fields:
    """Case- and separator-insensitive access to flat or nested webhook fields."""

    def __init__(self, params: dict):
        self.raw = _plain(params)
        self._flat: dict[str, str] = {}
        for key, value in self.raw.items():
            self._index(_norm_path(key), value)

    def _index(self, path: str, value, depth: int = 1) -> None:
        if depth > JSON_MAX_DEPTH:
            return  # only a customer's text can nest this deep; it is kept whole at its own path
        if isinstance(value, dict):
            for key, inner in value.items():
                self._index(f"{path}.{_norm_path(key)}", inner, depth + 1)
            return
        if isinstance(value, list):
            for position, inner in enumerate(value):
                self._index(f"{path}.{position}", inner, depth + 1)
            return
        text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        self._flat.setdefault(path, text)
        # A form field may carry a JSON object (`Button={"Text": ...}`): index its parts too.
        if text[:1] in "{[":
            try:
                decoded = json.loads(text)
            except (ValueError, RecursionError):  # "[[[[…" as a customer's message
                return
            if isinstance(decoded, (dict, list)):
                self._index(path, decoded, depth + 1)

    def get(self, *names: str, strip: bool = True) -> str:
        """The first non-blank value among `names` (dotted paths such as "Button.Payload")."""
        for name in names:
            value = self._flat.get(_norm_path(name), "")
            if value.strip():
                return value.strip() if strip else value
        return ""

    def has(self, name: str) -> bool:
        prefix = _norm_path(name)
        return any(path == prefix or path.startswith(prefix + ".") for path in self._flat)

    def items(self):
        return self._flat.items()


def _norm_path(path: str) -> str:
    return ".".join(_norm(part) for part in str(path).split("."))


def _plain(params: dict) -> dict:
    """JSON-safe copy; a form field sent once is a string, not a one-item list."""
    plain = {}
    for key, value in params.items():
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            plain[str(key)] = value[0] if len(value) == 1 else list(value)
        else:
            plain[str(key)] = value
    return plain


def _required(fields: Fields, name: str) -> str:
    value = fields.get(name)
    if not value:
        raise payload_refused(f"{name} is missing: Plivo always sends it, so this request cannot be stored.", field=name, code="required")
    return value


def _message_uuid(fields: Fields) -> str:
    uuid = _required(fields, "MessageUUID")
    if len(uuid) > UUID_MAX_LENGTH:
        raise payload_refused(f"MessageUUID is longer than {UUID_MAX_LENGTH} characters.", field="MessageUUID")
    return uuid


@dataclass(frozen=True)
class InboundPayload:
    """One customer message as Plivo delivered it to the message URL."""

    message_uuid: str
    from_number: str  # E.164
    to_number: str
    channel: str  # Channel value: whatsapp or sms (MMS is the sms thread)
    plivo_type: str  # sms, mms, whatsapp, or whatever Plivo sent
    kind: str  # Message.Kind value
    text: str = ""
    media: list = field(default_factory=list)  # [{"url", "content_type"}]
    structured: dict = field(default_factory=dict)  # Message.structured
    reply_to_plivo_uuid: str = ""
    intent: str = ""  # Plivo's MessageIntent: optout, optin, help or ""
    profile_name: str = ""
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict) -> "InboundPayload":
        fields = Fields(params)
        message_uuid = _message_uuid(fields)
        raw_from = _required(fields, "From")
        to_number = _required(fields, "To")
        try:
            from_number = normalize_phone(raw_from)
        except InvalidPhoneNumber as exc:
            raise payload_refused(f"From is not a phone number we can store ({exc})", field="From") from exc

        plivo_type = fields.get("Type").lower()
        channel = _channel(fields, plivo_type, to_number)
        media, media_not_shown, last_media_index = _media(fields)
        if media_not_shown:
            fields.raw = _raw_media_up_to(fields.raw, last_media_index)
        # The customer's words exactly as sent; WhatsApp and MMS use Body, SMS uses Text.
        text_fields = ("Text", "Body") if plivo_type == "sms" else ("Body", "Text")
        text = fields.get(*text_fields, strip=False)
        kind, structured, text = _kind(fields, channel, media, text)
        if media_not_shown:
            structured = {**structured, "media_not_shown": media_not_shown}
        context_uuid = fields.get("Context.MessageUUID", "Context.MessageId", "Context.Id", "ContextMessageUUID")
        return cls(
            message_uuid=message_uuid,
            from_number=from_number,
            to_number=to_number,
            channel=channel,
            plivo_type=plivo_type,
            kind=kind,
            text=text,
            media=media,
            structured=structured,
            reply_to_plivo_uuid=context_uuid if len(context_uuid) <= UUID_MAX_LENGTH else "",
            intent=fields.get("MessageIntent").lower(),
            profile_name=fields.get("ProfileName", "Profile.Name", "Contact.Profile.Name", "Contact.Name", "SenderName")[:200],
            raw=fields.raw,
        )


def _channel(fields: Fields, plivo_type: str, to_number: str) -> str:
    if plivo_type == "whatsapp":
        return Channel.WHATSAPP
    if plivo_type in ("sms", "mms"):
        return Channel.SMS
    # No (or an unknown) Type: WhatsApp-only fields or the number it was sent to decide.
    if fields.get("ContentType"):
        return Channel.WHATSAPP
    try:
        to_e164 = normalize_phone(to_number)
    except InvalidPhoneNumber:
        return Channel.SMS
    whatsapp, sms = (_e164_or_blank(settings.PLIVO_WHATSAPP_NUMBER), _e164_or_blank(settings.PLIVO_SMS_NUMBER))
    return Channel.WHATSAPP if to_e164 == whatsapp and to_e164 != sms else Channel.SMS


def _e164_or_blank(number: str) -> str:
    try:
        return normalize_phone(number) if number else ""
    except InvalidPhoneNumber:
        return ""


_MEDIA_KEY = re.compile(r"^media\.?(\d+)$")
# Top-level keys that describe one numbered attachment: Media7, MediaContentType7, Media7.Url...
_RAW_MEDIA_KEY = re.compile(r"^(?:media|mediaurl|mediacontenttype|mimetype|mediatype)\.?(\d+)(?:\.|$)")

# What one message keeps and shows: an MMS carries at most 10 attachments and a WhatsApp
# message one, so more can only come from a forged or broken callback; thousands froze the
# agent's tab. The rest are counted in Message.structured["media_not_shown"].
INBOUND_MEDIA_LIMIT = 10


def _media(fields: Fields) -> tuple[list[dict], int, int | None]:
    """Media0 (WhatsApp) or Media1..N (MMS), with their content types where Plivo gives them,
    up to INBOUND_MEDIA_LIMIT; how many more http(s) links there were; the last index kept."""
    found = sorted(
        (int(match.group(1)), value.strip())
        for path, value in fields.items()
        if (match := _MEDIA_KEY.match(path)) and value.strip()
    )
    media, not_shown, last_kept = [], 0, None
    for index, url in found:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            continue  # only http(s) links are ever rendered; the raw payload keeps the rest
        if len(media) == INBOUND_MEDIA_LIMIT:
            not_shown += 1
            continue
        content_type = fields.get(
            f"MediaContentType{index}", f"MimeType{index}", f"Media{index}.ContentType", f"MediaType{index}"
        )
        if not content_type and len(found) == 1:
            content_type = fields.get("MimeType", "MediaContentType", "ContentMimeType")
        if not content_type:
            content_type = mimetypes.guess_type(urlsplit(url).path)[0] or ""
        media.append({"url": url, "content_type": content_type.lower()})
        last_kept = index
    return media, not_shown, last_kept


def _raw_media_up_to(raw: dict, last_index: int) -> dict:
    """`raw` without the attachments numbered after `last_index`, so Message.structured["raw"]
    stays small too (the receipt keeps everything Plivo sent)."""
    trimmed = {}
    for key, value in raw.items():
        match = _RAW_MEDIA_KEY.match(_norm_path(key))
        if match and int(match.group(1)) > last_index:
            continue
        if _norm_path(key) == "media" and isinstance(value, list):
            value = value[: last_index + 1]
        trimmed[key] = value
    return trimmed


def _kind(fields: Fields, channel: str, media: list, text: str) -> tuple[str, dict, str]:
    """(Message.kind, Message.structured, visible text) for this message."""
    content_type = fields.get("ContentType").lower()
    if channel != Channel.WHATSAPP or content_type in ("", "text"):
        return (Message.Kind.MEDIA if media else Message.Kind.TEXT), {}, text
    if content_type in ("media", "image", "video", "audio", "document", "sticker", "voice"):
        if media:
            return Message.Kind.MEDIA, {}, text
        return _unsupported(fields, content_type, text)
    if content_type == "button":
        # Plivo documents only Body for a quick-reply tap; Button.Text / Button.Payload when present.
        button = {"text": fields.get("Button.Text", "ButtonText") or text.strip(),
                  "payload": fields.get("Button.Payload", "ButtonPayload")}
        if not (button["text"] or button["payload"]):
            return _unsupported(fields, content_type, text)
        return Message.Kind.BUTTON_REPLY, {"button": button, "raw": fields.raw}, text or button["text"]
    if content_type == "interactive":
        return _interactive(fields, content_type, text)
    if content_type == "location":
        location = {
            "latitude": fields.get("Location.Latitude", "Latitude"),
            "longitude": fields.get("Location.Longitude", "Longitude"),
            "name": fields.get("Location.Name", "LocationName"),
            "address": fields.get("Location.Address", "LocationAddress"),
        }
        if not (location["latitude"] and location["longitude"]):
            return _unsupported(fields, content_type, text)
        visible = text or ", ".join(part for part in (location["name"], location["address"]) if part)
        return Message.Kind.LOCATION, {"location": location, "raw": fields.raw}, visible
    return _unsupported(fields, content_type, text)


def _interactive(fields: Fields, content_type: str, text: str) -> tuple[str, dict, str]:
    reply_type = fields.get("Interactive.Type", "InteractiveType").lower().replace("-", "_")
    for prefix in ("Interactive.ListReply", "ListReply", "Interactive.List", "List"):
        if fields.has(prefix) and (reply_type in ("", "list_reply", "listreply", "list")):
            reply = {
                "id": fields.get(f"{prefix}.Id"),
                "title": fields.get(f"{prefix}.Title"),
                "description": fields.get(f"{prefix}.Description"),
            }
            if reply["id"] or reply["title"]:
                return Message.Kind.LIST_REPLY, {"list_reply": reply, "raw": fields.raw}, text or reply["title"]
    for prefix in ("Interactive.ButtonReply", "ButtonReply", "Interactive.Button", "Button"):
        if fields.has(prefix):
            button = {"id": fields.get(f"{prefix}.Id", f"{prefix}.Payload"), "text": fields.get(f"{prefix}.Title", f"{prefix}.Text")}
            if button["id"] or button["text"]:
                return Message.Kind.BUTTON_REPLY, {"button": button, "raw": fields.raw}, text or button["text"]
    return _unsupported(fields, content_type, text)


def _unsupported(fields: Fields, content_type: str, text: str) -> tuple[str, dict, str]:
    return Message.Kind.UNSUPPORTED, {"content_type": content_type, "raw": fields.raw}, text


@dataclass(frozen=True)
class StatusReport:
    """One delivery report for one of our sends, as Plivo posted it to the status URL."""

    message_uuid: str
    status: str  # lower case, as Plivo sent it (possibly one we do not know)
    sequence: int | None = None
    error_code: str = ""
    ref: int | None = None  # our Message.id, from the status URL's `?ref=`
    raw: dict = field(default_factory=dict)
    occurred_at: datetime | None = None  # Plivo's time of this step (DeliveryReportTime, SentTime, MessageTime)

    @classmethod
    def from_params(cls, params: dict, *, ref: str | None = None) -> "StatusReport":
        fields = Fields(params)
        message_uuid = _message_uuid(fields)
        _required(fields, "From")
        _required(fields, "To")
        status = _required(fields, "Status").lower()[:STATUS_MAX_LENGTH]
        sequence = fields.get("Sequence")
        return cls(
            message_uuid=message_uuid,
            status=status,
            sequence=int(sequence) if sequence.isdigit() and len(sequence) < 10 else None,
            error_code=normalize_error_code(fields.get("ErrorCode"))[:ERROR_CODE_MAX_LENGTH],
            ref=int(ref) if ref and ref.isdigit() and len(ref) < 19 else None,
            raw=fields.raw,
            occurred_at=_report_time(fields, status),
        )


# Which of Plivo's times tells when each step happened.
REPORT_TIME_FIELDS = {"queued": ("QueuedTime", "MessageTime"), "sent": ("SentTime", "MessageTime")}
FINAL_REPORT_TIME_FIELDS = ("DeliveryReportTime", "SentTime", "MessageTime")


def _report_time(fields: Fields, status: str) -> datetime | None:
    """Plivo's "2024-08-21 18:28:49.244057" (UTC unless an offset is given), or None."""
    for name in REPORT_TIME_FIELDS.get(status, FINAL_REPORT_TIME_FIELDS):
        value = fields.get(name)
        if not value or len(value) > 40:
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)
    return None
