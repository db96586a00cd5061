"""The suppression list: erased numbers that had opted out, kept only as a keyed hash."""

import hashlib
import hmac

from django.conf import settings

from conversations.privacy.models import SuppressedNumber
from messaging_site.errors import ApplicationError


def number_hash(phone: str) -> str:
    """HMAC-SHA256 of an E.164 number under PRIVACY_HASH_KEY (default: SECRET_KEY). Unlike a
    plain hash, the list cannot be reversed by hashing every possible number."""
    key = (settings.PRIVACY_HASH_KEY or settings.SECRET_KEY).encode()
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


def number_suppress(*, phone: str, channel: str) -> None:
    SuppressedNumber.objects.get_or_create(number_hash=number_hash(phone), channel=channel)


def suppressed_channels(phone: str) -> set[str]:
    """The channels `phone` is suppressed on: one indexed look-up."""
    return set(SuppressedNumber.objects.filter(number_hash=number_hash(phone)).values_list("channel", flat=True))


def send_refuse_if_suppressed(*, contact, channel: str) -> None:
    """The send path's check: an erased contact or a suppressed number gets nothing."""
    if contact.erased_at is not None or channel in suppressed_channels(contact.phone):
        raise ApplicationError(
            "This number opted out (or its contact was erased); nothing is sent to it.", code="opted_out", field="to"
        )
