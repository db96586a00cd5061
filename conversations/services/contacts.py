from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.models import ConsentRecord, Contact
from conversations.phone import normalize_phone
from conversations.privacy.audit import audit_record
from conversations.privacy.consent import consent_check, consent_record
from conversations.privacy.suppression import suppressed_channels


def contact_get_or_create(*, phone: str, display_name: str = "") -> tuple[Contact, bool]:
    """The contact for `phone` in any common format; safe against concurrent first messages."""
    contact, created = Contact.objects.get_or_create(phone=normalize_phone(phone), defaults={"display_name": display_name})
    if created:
        _suppression_apply(contact)
    elif not created and display_name and not contact.display_name:
        contact.display_name = display_name
        contact.save(update_fields=["display_name", "updated_at"])
    return contact, created


def _suppression_apply(contact: Contact) -> None:
    """A new contact whose number was erased after opting out starts opted out (one indexed
    look-up, for new contacts only)."""
    for channel in sorted(suppressed_channels(contact.phone)):
        contact_opt_out(
            contact=contact, channel=channel, reason="Opted out before (number on the suppression list)",
            method=ConsentRecord.Method.ERASURE,
        )


def contact_opt_out(
    *, contact: Contact, channel: str, reason: str, method: str = ConsentRecord.Method.API, by=None, batch: events.BroadcastBatch | None = None
) -> bool:
    """Mark `contact` opted out on `channel`, recording how (`ConsentRecord.Method`) and by
    whom. Returns whether anything changed."""
    return _opt_out_set(
        contact=contact, channel=channel, opted_out_at=timezone.now(), reason=reason[:200], method=method, by=by, batch=batch
    )


def contact_opt_in(
    *, contact: Contact, channel: str, method: str = ConsentRecord.Method.API, by=None, reason: str = "", batch: events.BroadcastBatch | None = None
) -> bool:
    """Opt `contact` back in on `channel`; an agent's opt-in needs a `reason`."""
    consent_check(opted_in=True, method=method, reason=reason)
    return _opt_out_set(contact=contact, channel=channel, opted_out_at=None, reason="", method=method, by=by,
                        consent_reason=reason, batch=batch)


@transaction.atomic
def _opt_out_set(*, contact: Contact, channel: str, opted_out_at, reason: str, method: str, by, batch,
                 consent_reason: str | None = None) -> bool:
    # Conditional UPDATE: a repeated STOP (or START) changes and announces nothing.
    changed = (
        Contact.objects.filter(pk=contact.pk, **{f"{channel}_opted_out_at__isnull": opted_out_at is not None}).update(
            **{f"{channel}_opted_out_at": opted_out_at, f"{channel}_opt_out_reason": reason},
            updated_at=timezone.now(),
        )
        == 1
    )
    if changed:
        opted_in = opted_out_at is None
        consent_record(contact=contact, channel=channel, opted_in=opted_in, method=method, by=by,
                       reason=reason if consent_reason is None else consent_reason)
        audit_record(actor=by, action="contact.opted_in" if opted_in else "contact.opted_out", target=contact,
                     details={"channel": channel, "method": method})
        contact.refresh_from_db()
        events.broadcast_on_commit(events.contact_updated_event(contact), batch=batch)
    return changed


def contact_rename(*, contact: Contact, display_name: str) -> Contact:
    contact.display_name = display_name.strip()[:200]
    contact.save(update_fields=["display_name", "updated_at"])
    events.broadcast_on_commit(events.contact_updated_event(contact))
    return contact
