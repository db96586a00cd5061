"""The rules every campaign recipient is checked against: its parameters against the message,
consent (opt-out, the suppression list, a recorded opt-in where required) and quiet hours in the
recipient's own time zone."""

from __future__ import annotations

import functools
import re
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from phonenumbers import timezone as phone_timezone

from conversations.campaign_models import Campaign
from conversations.models import Contact, MessageTemplate, template_variables
from conversations.privacy.consent import contact_has_recorded_opt_in
from conversations.privacy.models import SuppressedNumber
from conversations.privacy.suppression import number_hash

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
UNKNOWN_ZONE = "Etc/Unknown"


# --- the message each recipient gets ------------------------------------------------------------
def campaign_template(campaign: Campaign) -> MessageTemplate | None:
    if campaign.channel != "whatsapp":
        return None
    return MessageTemplate.objects.filter(name=campaign.template_name, language=campaign.template_language).first()


def parameter_count(campaign: Campaign, template: MessageTemplate | None) -> int:
    """How many values each recipient gives: the template's header, body and button
    parameters in that order (WhatsApp), or the text's {{1}}, {{2}}... (SMS)."""
    if campaign.channel == "sms":
        return max(template_variables(campaign.text), default=0)
    if template is None:
        return 0
    slots = template.parameter_slots()
    return slots["header"] + slots["body"] + sum(button["count"] for button in slots["buttons"])


def parameters_problem(parameters, *, expected: int) -> str:
    """Why `parameters` do not fit the message ("" when they do)."""
    if not isinstance(parameters, list):
        return "Parameters are a list of values."
    if len(parameters) != expected:
        return f"The message takes {expected} parameter{'s' if expected != 1 else ''}; {len(parameters)} given."
    for index, value in enumerate(parameters, start=1):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
            return f"Parameter {index} is empty."
        if len(str(value)) > 1024:
            return f"Parameter {index} is longer than 1024 characters."
    return ""


def message_content(campaign: Campaign, template: MessageTemplate | None, parameters: list) -> dict:
    """The keyword arguments of `message_send` for one recipient."""
    values = [str(value) for value in parameters]
    if campaign.channel == "sms":
        text = re.sub(r"\{\{\s*(\d+)\s*\}\}", lambda match: values[int(match.group(1)) - 1], campaign.text)
        return {"kind": "text", "text": text}
    slots = template.parameter_slots()
    header, values = values[: slots["header"]], values[slots["header"]:]
    body, values = values[: slots["body"]], values[slots["body"]:]
    buttons = {}
    for button in slots["buttons"]:
        if button["count"]:
            buttons[str(button["index"])], values = values[: button["count"]], values[button["count"]:]
    return {"kind": "template", "template": {
        "name": template.name, "language": template.language,
        "parameters": {"header": header, "body": body, "buttons": buttons},
    }}


# --- consent --------------------------------------------------------------------------------------
def requires_opt_in(campaign: Campaign, template: MessageTemplate | None) -> bool:
    """CAMPAIGN_REQUIRE_OPT_IN: marketing WhatsApp templates, and SMS campaigns (bulk SMS is
    marketing under TCPA), go only to contacts whose latest consent record is an opt-in."""
    if not settings.CAMPAIGN_REQUIRE_OPT_IN:
        return False
    return campaign.channel == "sms" or (template is not None and template.category == MessageTemplate.Category.MARKETING)


def consent_refusals(*, phones: list[str], channel: str, opt_in_required: bool) -> dict[str, str]:
    """{phone: skip reason} for the numbers that may not get a campaign message now: opted
    out, erased or on the suppression list (opted_out), or without a recorded opt-in when one is
    required (no_opt_in). A few queries for the whole batch, plus one per contact for opt-ins."""
    refusals = {}
    contacts = {contact.phone: contact for contact in Contact.objects.filter(phone__in=phones)}
    hashes = {number_hash(phone): phone for phone in phones}
    for suppressed in SuppressedNumber.objects.filter(number_hash__in=list(hashes), channel=channel).values_list("number_hash", flat=True):
        refusals[hashes[suppressed]] = "opted_out"
    for phone in phones:
        contact = contacts.get(phone)
        if phone in refusals:
            continue
        if contact is not None and (contact.is_opted_out(channel) or contact.erased_at is not None):
            refusals[phone] = "opted_out"
        elif opt_in_required and (contact is None or not contact_has_recorded_opt_in(contact, channel)):
            refusals[phone] = "no_opt_in"
    return refusals


# --- quiet hours ------------------------------------------------------------------------------------
@functools.cache
def quiet_hours_parse(text: str) -> tuple[time, time] | None:
    """"08:00-21:00": the hours campaign messages may go out; "" means at any hour."""
    if not (text or "").strip():
        return None
    match = _WINDOW.match(text)
    try:
        start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    except (TypeError, ValueError):
        start = end = None
    if start is None or start >= end:
        raise ImproperlyConfigured(f"CAMPAIGN_QUIET_HOURS must look like 08:00-21:00 (start before end), not {text!r}.")
    return start, end


@functools.lru_cache(maxsize=20_000)
def number_time_zones(phone: str) -> tuple[ZoneInfo, ...]:
    """The time zones a number may be in (phonenumbers' data: area code, else the country);
    the server's TIME_ZONE when nothing is known."""
    try:
        number = phonenumbers.parse(phone, None)
        names = [name for name in phone_timezone.time_zones_for_number(number) if name != UNKNOWN_ZONE]
        if not names:
            names = [name for name in phone_timezone._country_level_time_zones_for_number(number) if name != UNKNOWN_ZONE]
    except phonenumbers.NumberParseException:
        names = []
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:
            continue
    return tuple(zones) or (ZoneInfo(settings.TIME_ZONE),)


def _next_opening(moment: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """None if `moment` is inside the window in `zone`, else when the window next opens there."""
    local = moment.astimezone(zone)
    if start <= local.time() < end:
        return None
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(dt_timezone.utc)


def quiet_hours_wait_until(*, phone: str, now: datetime) -> datetime | None:
    """None if `phone` may get a campaign message at `now`; otherwise the first moment it may,
    inside the window in every time zone its number may be in (the first zone alone when those
    windows never meet)."""
    window = quiet_hours_parse(settings.CAMPAIGN_QUIET_HOURS)
    if window is None:
        return None
    zones = number_time_zones(phone)
    candidate = now
    for _ in range(4 * len(zones)):
        openings = [opening for zone in zones if (opening := _next_opening(candidate, zone, *window)) is not None]
        if not openings:
            return None if candidate == now else candidate
        candidate = max(openings)
    return _next_opening(now, zones[0], *window)
