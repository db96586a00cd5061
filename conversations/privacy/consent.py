"""Consent records: every opt-in and opt-out, how and by whom (written by the opt-in/out
service in `services/contacts.py`), and the question campaigns ask."""

from conversations.privacy.models import ConsentRecord
from conversations.reports.rollups import report_mark
from messaging_site.errors import ApplicationError


def consent_check(*, opted_in: bool, method: str, reason: str) -> None:
    """Refuse an agent's opt-in without a reason (before anything changes)."""
    if opted_in and method == ConsentRecord.Method.AGENT and not (reason or "").strip():
        raise ApplicationError(
            "Say why you are opting this customer in (for example: they asked on the phone).",
            field="reason",
            code="required",
            status=400,
        )


def consent_record(*, contact, channel: str, opted_in: bool, method: str, by=None, reason: str = "") -> ConsentRecord:
    reason = (reason or "").strip()[:200]
    consent_check(opted_in=opted_in, method=method, reason=reason)
    record = ConsentRecord.objects.create(
        contact=contact, channel=channel, opted_in=opted_in, method=method, by=by, reason=reason
    )
    if not opted_in:
        report_mark(conversation_id=None, at=record.created_at)  # reports (issue 16): opt-outs per day
    return record


def contact_has_recorded_opt_in(contact, channel: str) -> bool:
    """Whether the latest consent record of `contact` on `channel` is an opt-in (for
    CAMPAIGN_REQUIRE_OPT_IN: marketing templates only to customers who opted in)."""
    latest = (
        ConsentRecord.objects.filter(contact=contact, channel=channel).order_by("-created_at", "-id").values_list("opted_in", flat=True).first()
    )
    return bool(latest) and not contact.is_opted_out(channel)
