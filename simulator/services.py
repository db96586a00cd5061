"""The customer's side of the local Plivo simulator.

A customer's phone sends to Parley what Plivo would post for it: a V3-signed inbound webhook
to the app's own `/webhooks/plivo/message/`, with Plivo's field names. It shows what Parley
sent to that number, as the fake Plivo API (`simulator.fake_plivo.default_api()`) accepted it,
with the delivery reports the fake posted back.

Everything here lives in memory for the life of the server process, like the fake API itself:
the phone is a simulator, Parley's database keeps the real history.

Read receipts: a WhatsApp message is reported `read` when the customer looks at it, i.e. while
the phone page shows that chat in a visible browser tab (`customer_mark_read`), not on a timer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import mimetypes
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests
from django.conf import settings

from conversations.models import MessageTemplate
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.plivo_errors import error_name
from messaging_site.errors import ApplicationError
from simulator.fake_plivo import SPECIAL_NUMBERS, FakeMessage, FakePlivoAPI, default_api
from webhooks.signing import sign_v3

logger = logging.getLogger(__name__)

CHANNELS = ("whatsapp", "sms")
MAX_TEXT = {"whatsapp": 4096, "sms": 1600}
WEBHOOK_TIMEOUT_SECONDS = 10
PHONE_FILE_MAX_BYTES = 1536 * 1024  # base64 in a JSON body: under DATA_UPLOAD_MAX_MEMORY_SIZE

# Keywords Plivo itself recognises on SMS and flags with MessageIntent (see plivo.md, DND).
SMS_INTENTS = {
    "optout": {"STOP", "END", "QUIT", "CANCEL", "UNSUB", "UNSUBSCRIBE", "STOP ALL", "STOPALL"},
    "optin": {"START", "YES", "RESUME", "UNSTOP", "GO"},
    "help": {"HELP", "INFO"},
}

@dataclass
class CustomerMessage:
    """One message the simulated customer sent, and what Parley answered to its webhook."""

    uuid: str
    phone: str  # E.164
    channel: str
    kind: str  # text | media | button_reply | list_reply
    text: str = ""
    media_url: str = ""
    mime_type: str = ""
    media_id: str = ""  # a file the customer picked, kept by the fake Plivo (served behind basic auth)
    reply_to: str = ""  # the MessageUUID replied to (Context.MessageUUID)
    button: dict = field(default_factory=dict)  # {"id", "title"} of the tapped button / list row
    button_source: str = ""  # "template" (a quick reply) or "interactive" (reply buttons)
    profile_name: str = ""  # the customer's WhatsApp profile name
    created_at: float = field(default_factory=time.time)
    webhook_status: int | None = None  # None while posting; 0 when Parley could not be reached
    webhook_error: str = ""

    def as_wire(self) -> dict:
        return {
            "id": self.uuid,
            "from": "customer",
            "channel": self.channel,
            "kind": self.kind,
            "text": self.text,
            "media": [{"url": phone_media_url(self.media_id) if self.media_id else self.media_url,
                       "content_type": self.mime_type}] if self.media_url else [],
            "reply_to": self.reply_to or None,
            "button": self.button or None,
            "at": self.created_at,
            "webhook": {"status": self.webhook_status, "error": self.webhook_error},
        }


class _CustomerLog:
    """The customer-sent messages, per phone number, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_phone: dict[str, list[CustomerMessage]] = {}

    def add(self, message: CustomerMessage):
        with self.lock:
            self.by_phone.setdefault(message.phone, []).append(message)

    def for_chat(self, phone: str, channel: str) -> list[CustomerMessage]:
        with self.lock:
            return [m for m in self.by_phone.get(phone, []) if m.channel == channel]

    def clear(self):
        with self.lock:
            self.by_phone.clear()


customer_log = _CustomerLog()
_rendered_templates: dict[str, dict] = {}
_api_lock = threading.Lock()


def simulator_api() -> FakePlivoAPI:
    """The process-wide fake Plivo account, set up for the phone page (read when seen)."""
    api = default_api()
    if api.read_receipts != "on_view":
        with _api_lock:
            api.report_delays = tuple(getattr(settings, "SIMULATOR_REPORT_DELAYS", api.report_delays))
            api.read_receipts = "on_view"
    return api


def app_number(channel: str) -> str:
    return settings.PLIVO_WHATSAPP_NUMBER if channel == "whatsapp" else (settings.PLIVO_SMS_NUMBER or settings.PLIVO_WHATSAPP_NUMBER)


def inbound_webhook_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/plivo/message/"


# --- what the customer sends ---------------------------------------------------------------
def customer_phone_normalize(phone: str) -> str:
    try:
        return normalize_phone(phone, strict=True)
    except InvalidPhoneNumber as exc:
        raise ApplicationError(str(exc), field="phone", code="invalid_phone", status=400) from None


def phone_media_url(media_id: str) -> str:
    """Where the phone page shows a file kept by the fake Plivo (without Plivo's basic auth)."""
    return f"/simulator/phone/media/{media_id}/"


def customer_file_keep(*, message_uuid: str, media_file) -> tuple[str, str, str]:
    """A file the customer picked on the phone ({"name", "content_type", "data": base64}), kept by
    the fake Plivo as Plivo keeps inbound media: (its URL without extension, type, media id)."""
    if not isinstance(media_file, dict):
        raise ApplicationError("media_file is an object with name, content_type and data.", field="media_file", status=400)
    try:
        data = base64.b64decode(str(media_file.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise ApplicationError("media_file.data must be base64.", field="media_file.data", status=400) from None
    if not data or len(data) > PHONE_FILE_MAX_BYTES:
        raise ApplicationError("Pick a file of at most 1.5 MB.", field="media_file", code="too_large", status=400)
    content_type = str(media_file.get("content_type") or "application/octet-stream")[:100]
    url = simulator_api().media.add_inbound(message_uuid=message_uuid, data=data, content_type=content_type,
                                            file_name=str(media_file.get("name") or "")[:100])
    return url, content_type, url.rsplit("/", 1)[1]


def customer_message_build(*, phone: str, channel: str, text: str = "", media_url: str = "", reply_to: str = "",
                           button: dict | None = None, list_row: dict | None = None,
                           profile_name: str = "", media_file=None) -> CustomerMessage:
    """Check what the customer typed or tapped; nothing is sent or recorded yet (a picked file
    is kept by the fake Plivo, as Plivo keeps it before posting the webhook)."""
    phone = customer_phone_normalize(phone)
    profile_name = " ".join((profile_name or "").split())[:100] if channel == "whatsapp" else ""
    if channel not in CHANNELS:
        raise ApplicationError("Channel must be whatsapp or sms.", field="channel", status=400)
    if phone.lstrip("+") == app_number(channel).lstrip("+"):
        raise ApplicationError("That is Parley's own number; pick a customer's number.", field="phone", status=400)
    text = (text or "").strip()
    media_url = (media_url or "").strip()
    if len(text) > MAX_TEXT[channel]:
        raise ApplicationError(f"At most {MAX_TEXT[channel]} characters on {channel}.", field="text", code="too_long", status=400)
    if media_url and not re.match(r"^https?://[^\s]+$", media_url):
        raise ApplicationError("The image URL must start with http:// or https://.", field="media_url", status=400)
    reply_to = (reply_to or "").strip()
    if reply_to and not re.match(r"^[0-9a-fA-F-]{8,64}$", reply_to):
        raise ApplicationError("reply_to must be a MessageUUID.", field="reply_to", status=400)
    if button or list_row:
        if channel != "whatsapp":
            raise ApplicationError("Buttons and lists exist on WhatsApp only.", field="button", status=400)
        tapped = button or list_row
        if not isinstance(tapped, dict) or not str(tapped.get("title") or "").strip():
            raise ApplicationError("A tapped button needs its title.", field="button", status=400)
        if not reply_to:
            raise ApplicationError("A tapped button belongs to a message: give its reply_to.", field="reply_to", status=400)
        tapped = {key: str(tapped.get(key) or "")[:200] for key in ("id", "title", "description")}
        original = simulator_api().messages.get(reply_to)
        source = "template" if original is not None and original.body.get("template") else "interactive"
        return CustomerMessage(uuid=str(uuid.uuid4()), phone=phone, channel=channel,
                               kind="button_reply" if button else "list_reply", text=tapped["title"],
                               reply_to=reply_to, button=tapped, button_source=source, profile_name=profile_name)
    message_uuid, media_id, mime_type = str(uuid.uuid4()), "", ""
    if media_file:
        media_url, mime_type, media_id = customer_file_keep(message_uuid=message_uuid, media_file=media_file)
    if not text and not media_url:
        raise ApplicationError("Type a message or give an image URL.", field="text", code="required", status=400)
    if media_url and not mime_type:
        mime_type = mimetypes.guess_type(media_url.split("?")[0])[0] or "image/jpeg"
    return CustomerMessage(uuid=message_uuid, phone=phone, channel=channel, kind="media" if media_url else "text",
                           text=text, media_url=media_url, mime_type=mime_type, media_id=media_id, reply_to=reply_to,
                           profile_name=profile_name)


def customer_webhook_params(message: CustomerMessage) -> dict[str, str]:
    """The form fields Plivo posts to the message URL for this customer message."""
    params = {
        "MessageUUID": message.uuid,
        "From": message.phone.lstrip("+"),
        "To": app_number(message.channel).lstrip("+"),
        "Units": "1",
        "TotalRate": "0.00000" if message.channel == "whatsapp" else "0.00500",
        "TotalAmount": "0.00000" if message.channel == "whatsapp" else "0.00500",
        "PowerpackUUID": "",
    }
    if message.channel == "whatsapp":
        params["Type"] = "whatsapp"
        params["Body"] = message.text
        if message.kind == "media":
            params.update(ContentType="media", MediaCount="1", Media0=message.media_url, MimeType=message.mime_type)
        elif message.kind == "button_reply" and message.button_source == "template":
            # A template's quick-reply button, as WhatsApp reports it: its text and payload.
            params.update(ContentType="button", **{"Button.Text": message.button["title"],
                                                   "Button.Payload": message.button["id"] or message.button["title"]})
        elif message.kind == "button_reply":
            params.update(ContentType="interactive", **{
                "Interactive.Type": "button_reply",
                "Interactive.ButtonReply.Id": message.button["id"],
                "Interactive.ButtonReply.Title": message.button["title"],
            })
        elif message.kind == "list_reply":
            params.update(ContentType="interactive", **{
                "Interactive.Type": "list_reply",
                "Interactive.ListReply.Id": message.button["id"],
                "Interactive.ListReply.Title": message.button["title"],
                "Interactive.ListReply.Description": message.button["description"],
            })
        else:
            params["ContentType"] = "text"
        if message.profile_name:
            params["ProfileName"] = message.profile_name
    elif message.kind == "media":
        params.update(Type="mms", Text=message.text, MediaCount="1", Media1=message.media_url,
                      MediaContentType1=message.mime_type)
    else:
        params.update(Type="sms", Text=message.text, MessageIntent=_sms_intent(message.text))
    if message.reply_to:
        params["Context.MessageUUID"] = message.reply_to
    return params


def _sms_intent(text: str) -> str:
    word = " ".join(text.upper().split())
    for intent, words in SMS_INTENTS.items():
        if word in words:
            return intent
    return ""


def customer_message_send(message: CustomerMessage) -> CustomerMessage:
    """Record the message on the phone and post its signed webhook to Parley; blocks until
    Parley answers, so call it off the request thread (Parley may be this very process)."""
    customer_log.add(message)
    url = inbound_webhook_url()
    params = customer_webhook_params(message)
    headers = sign_v3(url=url, params=params, auth_token=settings.PLIVO_AUTH_TOKEN)
    try:
        response = requests.post(url, data=params, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        message.webhook_error = f"Parley could not be reached ({exc.__class__.__name__})."
        message.webhook_status = 0
        logger.warning("simulator could not post inbound %s: %s", message.uuid, exc.__class__.__name__)
        return message
    if response.status_code >= 300:
        message.webhook_error = _error_text(response)
    message.webhook_status = response.status_code
    if message.channel == "sms":
        _apply_carrier_opt_out(message)
    return message


def _error_text(response) -> str:
    try:
        error = response.json().get("error")
        text = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        text = response.text[:200]
    return f"Parley answered {response.status_code}" + (f": {text}" if text else ".")


def _apply_carrier_opt_out(message: CustomerMessage):
    """Plivo's DND on US/CA numbers: after STOP, sends from that number to the customer fail
    with error 200 until START. Parley should refuse such sends before Plivo sees them."""
    intent = _sms_intent(message.text)
    pair = (app_number("sms").lstrip("+"), message.phone.lstrip("+"))
    if intent == "optout":
        simulator_api().carrier_opt_outs.add(pair)
    elif intent == "optin":
        simulator_api().carrier_opt_outs.discard(pair)


# --- what the customer sees ------------------------------------------------------------------
def _business_messages(phone: str, channel: str) -> list[FakeMessage]:
    digits = phone.lstrip("+")
    types = ("whatsapp",) if channel == "whatsapp" else ("sms", "mms")
    return [m for m in simulator_api().accepted if m.dst.lstrip("+") == digits and m.type in types]


def customer_thread_etag(*, phone: str, channel: str) -> str:
    """Changes whenever anything on this chat changes; cheap (no database)."""
    parts = [f"{m.uuid}:{len(m.reports)}" for m in _business_messages(phone, channel)]
    parts += [f"{m.uuid}:{m.webhook_status}" for m in customer_log.for_chat(phone, channel)]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def customer_thread(*, phone: str, channel: str) -> dict:
    """Both sides of the chat, oldest first, as the phone page draws it."""
    business = [business_message_view(m) for m in _business_messages(phone, channel)]
    customer = [m.as_wire() for m in customer_log.for_chat(phone, channel)]
    messages = sorted(business + customer, key=lambda m: m["at"])
    return {"phone": phone, "channel": channel, "etag": customer_thread_etag(phone=phone, channel=channel),
            "messages": messages,
            # Delivery reports (for any number) the simulated Plivo has yet to post to Parley.
            "reports_pending": simulator_api().reporter.pending()}


def customer_mark_read(*, phone: str) -> list[str]:
    return simulator_api().mark_read(dst=phone)


def business_message_view(message: FakeMessage) -> dict:
    body = message.body
    reports = list(message.reports)
    state = reports[-1] if reports else "accepted"
    error_code = message.error_code
    view = {
        "id": message.uuid,
        "from": "business",
        "channel": "whatsapp" if message.type == "whatsapp" else "sms",
        "kind": "media" if body.get("media_urls") or body.get("media_ids") else "text",
        "text": body.get("text") or "",
        "media": [{"url": url, "content_type": ""} for url in body.get("media_urls") or []]
                 + [{"url": phone_media_url(str(media_id)), "content_type": _media_type(media_id)}
                    for media_id in body.get("media_ids") or []],
        "at": message.created_at,
        "state": state,
        "reports": reports,
        "error_code": error_code,
        "error": error_name(error_code),
    }
    if body.get("interactive"):
        view["kind"] = "interactive"
        view["interactive"] = _interactive_view(body["interactive"])
    elif body.get("template"):
        view["kind"] = "template"
        view["template"] = _template_view(message.uuid, body["template"])
    elif body.get("location"):
        view["kind"] = "location"
        view["location"] = {key: str(body["location"].get(key, "")) for key in ("latitude", "longitude", "name", "address")}
    return view


def _media_type(media_id) -> str:
    media = simulator_api().media.get(str(media_id))
    return media.content_type if media is not None else ""


def _interactive_view(interactive: dict) -> dict:
    action = interactive.get("action") or {}
    header = interactive.get("header") or {}
    return {
        "type": interactive.get("type"),
        "header": header.get("text") or "",
        "header_media": header.get("media") or "",
        "body": (interactive.get("body") or {}).get("text") or "",
        "footer": (interactive.get("footer") or {}).get("text") or "",
        "buttons": [{"id": str(b.get("id") or ""), "title": str(b.get("title") or ""), "cta_url": str(b.get("cta_url") or "")}
                    for b in action.get("buttons") or []],
        "sections": [{"title": str(s.get("title") or ""),
                      "rows": [{"id": str(r.get("id") or ""), "title": str(r.get("title") or ""),
                                "description": str(r.get("description") or "")} for r in s.get("rows") or []]}
                     for s in action.get("sections") or []],
    }


def _template_view(message_uuid: str, template: dict) -> dict:
    """The template as the customer's WhatsApp shows it: rendered from Parley's approved copy."""
    if message_uuid in _rendered_templates:
        return _rendered_templates[message_uuid]
    header_values, body_values, button_values, payloads = [], [], {}, {}
    for component in template.get("components") or []:
        values = [_parameter_text(p) for p in component.get("parameters") or []]
        if component.get("type") == "header":
            header_values = values
        elif component.get("type") == "body":
            body_values = values
        elif component.get("type") == "button":
            index = str(component.get("index", ""))
            button_values[index] = values
            if component.get("sub_type") == "quick_reply":
                payloads[index] = next((p.get("payload") for p in component.get("parameters") or [] if p.get("payload")), "")
    stored = MessageTemplate.objects.filter(name=template.get("name"), language=template.get("language")).first()
    view = {"name": template.get("name"), "language": template.get("language"), "text": "", "header_media": "", "buttons": []}
    if stored is None:
        view["text"] = f"[template {template.get('name')} ({template.get('language')})] " + " · ".join(body_values)
    else:
        rendered = stored.render({"header": header_values, "body": body_values, "buttons": button_values})
        view["text"] = rendered["text"]
        if rendered["header"] and rendered["header"].get("type") != "text":
            view["header_media"] = rendered["header"].get("media") or ""
        for index, button in enumerate(rendered["buttons"]):
            entry = {"type": button.get("type"), "title": button.get("text", "")}
            if button.get("type") == "quick_reply":
                entry["id"] = payloads.get(str(index)) or button.get("text", "")
            elif button.get("type") == "url":
                entry["cta_url"] = button.get("url", "")
            view["buttons"].append(entry)
    _rendered_templates[message_uuid] = view
    return view


def _parameter_text(parameter: dict) -> str:
    kind = parameter.get("type")
    if kind in ("text", "media", "payload", "coupon_code"):
        return str(parameter.get(kind) or parameter.get("text") or "")
    if kind in ("currency", "date_time"):
        return str((parameter.get(kind) or {}).get("fallback_value", ""))
    return ""


def special_numbers() -> list[dict]:
    """The special destination suffixes, with a ready-made number for each."""
    return [{"suffix": suffix, "phone": f"+1415555{suffix}", "behaviour": text} for suffix, text in SPECIAL_NUMBERS.items()]
