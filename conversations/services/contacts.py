from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations import events
from conversations.models import Contact
from conversations.phone import normalize_phone


def contact_get_or_create(*, phone: str, display_name: str = "") -> tuple[Contact, bool]:
    """The contact for `phone` in any common format; safe against concurrent first messages."""
    e164 = normalize_phone(phone)
    contact = Contact.objects.filter(phone=e164).first()
    if contact is not None:
        if display_name and contact.display_name != display_name and not contact.display_name:
            contact.display_name = display_name
            contact.save(update_fields=["display_name", "updated_at"])
        return contact, False
    try:
        with transaction.atomic():
            return Contact.objects.create(phone=e164, display_name=display_name), True
    except IntegrityError:  # another request created it first
        return Contact.objects.get(phone=e164), False


def contact_opt_out(*, contact: Contact, channel: str, reason: str) -> bool:
    """Mark `contact` opted out on `channel`. Returns whether anything changed."""
    changed = (
        Contact.objects.filter(pk=contact.pk, **{f"{channel}_opted_out_at__isnull": True}).update(
            **{f"{channel}_opted_out_at": timezone.now(), f"{channel}_opt_out_reason": reason[:200]},
            updated_at=timezone.now(),
        )
        == 1
    )
    if changed:
        contact.refresh_from_db()
        events.contact_updated(contact)
    return changed


def contact_opt_in(*, contact: Contact, channel: str) -> bool:
    changed = (
        Contact.objects.filter(pk=contact.pk, **{f"{channel}_opted_out_at__isnull": False}).update(
            **{f"{channel}_opted_out_at": None, f"{channel}_opt_out_reason": ""},
            updated_at=timezone.now(),
        )
        == 1
    )
    if changed:
        contact.refresh_from_db()
        events.contact_updated(contact)
    return changed


def contact_rename(*, contact: Contact, display_name: str) -> Contact:
    contact.display_name = display_name.strip()[:200]
    contact.save(update_fields=["display_name", "updated_at"])
    events.contact_updated(contact)
    return contact
