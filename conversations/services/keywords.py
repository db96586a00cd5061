"""Whole-message keywords: STOP opts the customer out of a channel, START back in, HELP flags
the contact for an agent. The message itself is always stored and shown."""

import re
import unicodedata

from django.utils import timezone

from conversations import events
from conversations.models import ConsentRecord, Contact
from conversations.services.contacts import contact_opt_in, contact_opt_out

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "END", "QUIT", "CANCEL", "UNSUBSCRIBE", "REVOKE", "OPT OUT", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES", "RESUME"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


def _is_edge_noise(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PSZC"


def keyword_normalize(text: str) -> str:
    """`  stop!! ` -> `STOP`; `Opt-out.` -> `OPT OUT`: whole-message keywords only."""
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return re.sub(r"[\s\-_]+", " ", text[start:end]).upper()


def keyword_classify(*, text: str, intent: str = "") -> str:
    """"optout", "optin", "help" or "": what the customer asked for with this message."""
    keyword = keyword_normalize(text or "")
    if keyword in OPT_OUT_KEYWORDS or intent == "optout":
        return "optout"
    if keyword in OPT_IN_KEYWORDS or intent == "optin":
        return "optin"
    if keyword in HELP_KEYWORDS or intent == "help":
        return "help"
    return ""


def keyword_apply(
    *, contact: Contact, channel: str, text: str, intent: str, batch: events.BroadcastBatch | None = None
) -> None:
    action = keyword_classify(text=text, intent=intent)
    method = ConsentRecord.Method.KEYWORD if keyword_classify(text=text) == action else ConsentRecord.Method.INTENT
    if action == "optout":
        reason = f'Customer sent "{text.strip()[:60]}"' if text.strip() else "Plivo flagged the message as an opt-out"
        contact_opt_out(contact=contact, channel=channel, reason=reason, method=method, batch=batch)
    elif action == "optin":
        contact_opt_in(contact=contact, channel=channel, method=method, reason=f'Customer sent "{text.strip()[:60]}"', batch=batch)
    elif action == "help":
        now = timezone.now()
        Contact.objects.filter(pk=contact.pk).update(help_requested_at=now, updated_at=now)
        contact.refresh_from_db()
        events.broadcast_on_commit(events.contact_updated_event(contact), batch=batch)
