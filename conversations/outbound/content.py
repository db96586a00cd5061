"""Content preparation: what a send request turns into, checked against the channel's rules
(text and caption lengths, media URLs, templates and their parameters, interactive limits,
locations) before anything is stored. Raises `ApplicationError` naming the field."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from urllib.parse import urlsplit

from conversations.models import Channel, MessageTemplate
from conversations.services.attachments import attachments_for_send
from messaging_site.errors import ApplicationError

KINDS = ("text", "media", "template", "interactive", "location")
WHATSAPP_ONLY_KINDS = ("template", "interactive", "location")
TEXT_LIMITS = {Channel.WHATSAPP: 4096, Channel.SMS: 1600}
WHATSAPP_CAPTION_LIMIT = 1024
MMS_MEDIA_LIMIT = 10


@dataclass
class PreparedContent:
    """What a valid request turns into: the message's stored fields."""

    kind: str
    text: str = ""
    media: list = dataclass_field(default_factory=list)
    structured: dict = dataclass_field(default_factory=dict)
    attachment_files: list = dataclass_field(default_factory=list)  # MediaFile rows to bind to the message


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
    attachments=None,
    sent_by=None,
    templates: dict | None = None,
) -> PreparedContent:
    """Check one message's content against the channel's rules; raise `ApplicationError`.
    `attachments`: ids of files `sent_by` uploaded (POST /api/v1/attachments/). `templates`:
    a dict the caller keeps across many messages (a bulk batch), so each template is looked up
    once for all of them."""
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
    attachments = list(attachments or [])
    if kind != "media" and media_urls:
        raise ApplicationError("media_urls are only used with type media.", code="unexpected_field", field="media_urls", status=400)
    if kind != "media" and attachments:
        raise ApplicationError("attachments are only used with type media.", code="unexpected_field", field="attachments", status=400)
    limit = TEXT_LIMITS[channel]
    if kind == "text":
        return PreparedContent(kind="text", text=_require_text(text, field="text", limit=limit, what="The text"))
    if kind == "media":
        return _prepare_media(channel=channel, text=text, media_urls=media_urls, attachments=attachments, sent_by=sent_by)
    if text:
        raise ApplicationError(f"text is not used with type {kind}.", code="unexpected_field", field="text", status=400)
    if kind == "template":
        return _prepare_template(template, templates=templates)
    if kind == "interactive":
        return _prepare_interactive(interactive)
    return _prepare_location(location)


def _prepare_media(*, channel: str, text: str, media_urls: list, attachments: list, sent_by) -> PreparedContent:
    if not media_urls and not attachments:
        raise ApplicationError("A media message needs at least one URL in media_urls or one of your attachments.",
                               code="required", field="media_urls", status=400)
    most = 1 if channel == Channel.WHATSAPP else MMS_MEDIA_LIMIT
    if len(media_urls) + len(attachments) > most:
        raise ApplicationError(
            "WhatsApp sends one media file per message; send the others as separate messages."
            if channel == Channel.WHATSAPP
            else f"An MMS carries at most {MMS_MEDIA_LIMIT} media files.",
            code="too_many_media",
            field="attachments" if attachments else "media_urls",
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
    files = attachments_for_send(channel=channel, attachment_ids=attachments, sent_by=sent_by)
    media += [media_file.as_media_item() for media_file in files]
    return PreparedContent(kind="media", text=caption, media=media, attachment_files=files)


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


def _template_find(name: str, language: str, templates: dict | None) -> MessageTemplate | None:
    if templates is None:
        return MessageTemplate.objects.filter(name=name, language=language).first()
    if (name, language) not in templates:
        templates[(name, language)] = MessageTemplate.objects.filter(name=name, language=language).first()
    return templates[(name, language)]


def _prepare_template(call: dict | None, *, templates: dict | None = None) -> PreparedContent:
    if not isinstance(call, dict) or not call.get("name") or not call.get("language"):
        raise ApplicationError("A template message needs template.name and template.language.", code="required", field="template", status=400)
    name, language = str(call["name"]), str(call["language"])
    template = _template_find(name, language, templates)
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
        sections = _list_sections(action.get("sections"))
        normalized["action"] = {"buttons": [{"title": _list_button_label(action)}], "sections": sections}
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


def _list_button_label(action: dict) -> str:
    """The label of the button that opens the list, which WhatsApp requires: Plivo's
    `action.buttons[0].title` (or Meta's `action.button`)."""
    buttons = action.get("buttons")
    label = action.get("button")
    if isinstance(buttons, list) and buttons and isinstance(buttons[0], dict):
        label = buttons[0].get("title") or label
    return _require_text(label, field="interactive.action.buttons.0.title", limit=20,
                         what="The list's button label (what the customer taps to see the rows)")


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
