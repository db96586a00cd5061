from django.utils import timezone

from conversations import events
from conversations.models import Contact
from conversations.phone import normalize_phone


def contact_get_or_create(*, phone: str, display_name: str = "") -> tuple[Contact, bool]:
    """The contact for `phone` in any common format; safe against concurrent first messages."""
    contact, created = Contact.objects.get_or_create(phone=normalize_phone(phone), defaults={"display_name": display_name})
    if not created and display_name and not contact.display_name:
        contact.display_name = display_name
        contact.save(update_fields=["display_name", "updated_at"])
    return contact, created


def contact_opt_out(*, contact: Contact, channel: str, reason: str, batch: events.BroadcastBatch | None = None) -> bool:
    """Mark `contact` opted out on `channel`. Returns whether anything changed."""
    return _opt_out_set(contact=contact, channel=channel, opted_out_at=timezone.now(), reason=reason[:200], batch=batch)


def contact_opt_in(*, contact: Contact, channel: str, batch: events.BroadcastBatch | None = None) -> bool:
    return _opt_out_set(contact=contact, channel=channel, opted_out_at=None, reason="", batch=batch)


def _opt_out_set(*, contact: Contact, channel: str, opted_out_at, reason: str, batch) -> bool:
    # Conditional UPDATE: a repeated STOP (or START) changes and announces nothing.
    changed = (
        Contact.objects.filter(pk=contact.pk, **{f"{channel}_opted_out_at__isnull": opted_out_at is not None}).update(
            **{f"{channel}_opted_out_at": opted_out_at, f"{channel}_opt_out_reason": reason},
            updated_at=timezone.now(),
        )
        == 1
    )
    if changed:
        contact.refresh_from_db()
        events.broadcast_on_commit(events.contact_updated_event(contact), batch=batch)
    return changed


def contact_rename(*, contact: Contact, display_name: str) -> Contact:
    contact.display_name = display_name.strip()[:200]
    contact.save(update_fields=["display_name", "updated_at"])
    events.broadcast_on_commit(events.contact_updated_event(contact))
    return contact
