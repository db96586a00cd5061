"""Phone numbers: every number Parley stores or dials is E.164, normalised by `phonenumbers`."""

import functools

import phonenumbers
from django.conf import settings


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can dial; the message says why."""


def normalize_phone(raw: str, *, strict: bool = False) -> str:
    """Return `raw` as E.164 (`+14155550100`).

    Accepts the common ways a number is written: `+1 415 555 0100`, `(415) 555-0100` (read in
    PHONE_DEFAULT_REGION), and Plivo's own form without the plus (`14155550100`).
    `strict` (numbers we are about to dial) also requires the number to be valid for its
    country; numbers Plivo gives us only have to be possible, so no inbound is refused.
    """
    return _normalize((raw or "").strip(), settings.PHONE_DEFAULT_REGION, strict)


@functools.lru_cache(maxsize=10_000)
def _normalize(text: str, default_region: str, strict: bool) -> str:
    # Cached: every webhook normalises the same few numbers (ours, and each regular customer's).
    if not text:
        raise InvalidPhoneNumber("A phone number is required.")
    digits_only = text.replace(" ", "").replace("-", "").isdigit()
    candidates = []
    if text.startswith("+"):
        candidates.append((text, None))
    elif text.startswith("00") and digits_only:
        candidates.append(("+" + text[2:], None))
    else:
        if digits_only:
            candidates.append(("+" + text, None))  # Plivo sends E.164 without the plus
        candidates.append((text, default_region))
    reason = "This is not a phone number."
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            reason = _parse_error_reason(exc)
            continue
        if not phonenumbers.is_possible_number(number):
            reason = "This number has the wrong length for its country."
            continue
        if strict and not phonenumbers.is_valid_number(number):
            reason = "This number does not exist in its country's numbering plan."
            continue
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhoneNumber(reason)


def _parse_error_reason(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "Unknown country code; write the number with + and its country code.",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "This is not a phone number.",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "This number is too short.",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "This number is too short.",
        phonenumbers.NumberParseException.TOO_LONG: "This number is too long.",
    }.get(exc.error_type, "This is not a phone number.")
