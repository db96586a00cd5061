"""What the fake Plivo refuses in a send request, as Plivo's Message API does, with Plivo-like
error texts: type, src/dst, url, media, and the structure of templates, interactive messages
and locations."""

import re

NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")


class PlivoValidationError(Exception):
    pass


def validate_message_request(payload: dict) -> None:
    """Refuse what Plivo's API refuses, with Plivo-like error texts."""
    message_type = payload.get("type", "sms")
    if message_type not in ("sms", "mms", "whatsapp"):
        raise PlivoValidationError("type must be one of sms, mms, whatsapp")
    dst = payload.get("dst")
    if not isinstance(dst, str) or not dst:
        raise PlivoValidationError("dst is a required parameter")
    if "<" in dst or "[" in dst or not NUMBER.match(dst):
        raise PlivoValidationError(f"invalid dst parameter: {dst!r}")
    src = payload.get("src")
    if not src and not payload.get("powerpack_uuid"):
        raise PlivoValidationError("src or powerpack_uuid is a required parameter")
    if src and not NUMBER.match(src):
        raise PlivoValidationError(f"invalid src parameter: {src!r}")
    if src and src.lstrip("+") == dst.lstrip("+"):
        raise PlivoValidationError("destination number cannot be same as source number")
    if payload.get("log") not in (None, "true", "false", "number_only", "content_only"):
        raise PlivoValidationError("log must be one of true, false, number_only, content_only")
    url = payload.get("url")
    if url is not None and not re.match(r"^https?://", str(url)):
        raise PlivoValidationError("url must be a valid http(s) URL")
    media_urls = payload.get("media_urls")
    if media_urls is not None:
        if not isinstance(media_urls, list) or not all(isinstance(u, str) and re.match(r"^https?://", u) for u in media_urls):
            raise PlivoValidationError("media_urls must be a list of http(s) URLs")
        if len(media_urls) > 10:
            raise PlivoValidationError("at most 10 media_urls are allowed")
    structured = [key for key in ("template", "interactive", "location") if payload.get(key) is not None]
    if structured and message_type != "whatsapp":
        raise PlivoValidationError(f"{structured[0]} is only applicable when type is whatsapp")
    if len(structured) > 1:
        raise PlivoValidationError("only one of template, interactive, location may be given")
    if message_type == "mms" and not media_urls and not payload.get("media_ids"):
        raise PlivoValidationError("media_urls is required for mms")
    if not structured and not payload.get("text") and not media_urls and not payload.get("media_ids"):
        raise PlivoValidationError("text is a required parameter")
    text = payload.get("text") or ""
    if len(text) > (4096 if message_type == "whatsapp" else 1600):
        raise PlivoValidationError("text is too long")
    if payload.get("template") is not None:
        _validate_template(payload["template"])
    if payload.get("interactive") is not None:
        _validate_interactive(payload["interactive"])
    if payload.get("location") is not None:
        _validate_location(payload["location"])


def _validate_template(template) -> None:
    if not isinstance(template, dict) or not template.get("name") or not template.get("language"):
        raise PlivoValidationError("template requires name and language")
    for component in template.get("components") or []:
        if not isinstance(component, dict) or component.get("type") not in ("header", "body", "button", "footer"):
            raise PlivoValidationError("template component type must be header, body, button or footer")
        if component["type"] == "button":
            if component.get("sub_type") not in ("quick_reply", "url", "copy_code", "catalog", "flow"):
                raise PlivoValidationError("button component requires a valid sub_type")
            if not isinstance(component.get("index"), str):
                raise PlivoValidationError("button component index must be a string")
        for parameter in component.get("parameters") or []:
            kind = parameter.get("type") if isinstance(parameter, dict) else None
            if kind not in ("text", "media", "payload", "currency", "date_time", "location", "coupon_code"):
                raise PlivoValidationError(f"invalid template parameter type: {kind!r}")
            if kind in ("text", "media", "payload") and not isinstance(parameter.get(kind), str):
                raise PlivoValidationError(f"template parameter of type {kind} requires a string {kind}")


def _validate_interactive(interactive) -> None:
    if not isinstance(interactive, dict):
        raise PlivoValidationError("interactive must be an object")
    kind = interactive.get("type")
    if kind not in ("button", "list", "cta_url"):
        raise PlivoValidationError("interactive type must be button, list or cta_url")
    body = interactive.get("body") or {}
    if not body.get("text"):
        raise PlivoValidationError("interactive body text is required")
    action = interactive.get("action") or {}
    if kind == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            raise PlivoValidationError("interactive button messages take 1 to 3 buttons")
        for button in buttons:
            if not button.get("id") or not button.get("title") or len(button["title"]) > 20:
                raise PlivoValidationError("each button needs an id and a title of at most 20 characters")
    elif kind == "list":
        sections = action.get("sections") or []
        rows = [row for section in sections for row in (section.get("rows") or [])]
        if not sections or not 1 <= len(rows) <= 10:
            raise PlivoValidationError("interactive list messages take 1 to 10 rows")
        for row in rows:
            if not row.get("id") or not row.get("title") or len(row["title"]) > 24:
                raise PlivoValidationError("each list row needs an id and a title of at most 24 characters")
    else:
        buttons = action.get("buttons") or []
        if len(buttons) != 1 or not str(buttons[0].get("cta_url", "")).startswith(("http://", "https://")):
            raise PlivoValidationError("cta_url messages take exactly one button with an http(s) cta_url")


def _validate_location(location) -> None:
    if not isinstance(location, dict):
        raise PlivoValidationError("location must be an object")
    for key in ("latitude", "longitude", "name", "address"):
        if not isinstance(location.get(key), str):
            raise PlivoValidationError(f"location {key} is required and must be a string")
    try:
        latitude, longitude = float(location["latitude"]), float(location["longitude"])
    except ValueError:
        raise PlivoValidationError("location latitude and longitude must be numbers") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise PlivoValidationError("location coordinates are out of range")
