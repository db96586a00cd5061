"""Changing a campaign that has not started sending: its name, its schedule, its rate.

Only a draft or a scheduled campaign can be changed. The schedule follows `campaign_start`'s
rule: a scheduled campaign given a new time stays scheduled for it, one unscheduled (time set
to None) goes back to draft; a draft given a time stays a draft until it is started (then it
is scheduled). A scheduled campaign whose time has come is being started by the dispatcher and
can no longer be changed, so an edit never races the dispatcher's start.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations.campaign_models import Campaign
from conversations.campaigns.lifecycle import rate_allowed
from conversations.privacy.audit import audit_record
from messaging_site.errors import ApplicationError

Status = Campaign.Status
EDITABLE_FIELDS = ("name", "scheduled_at", "rate_per_second")


class _Unchanged:
    def __repr__(self):
        return "UNCHANGED"


UNCHANGED = _Unchanged()


def campaign_edit(*, campaign: Campaign, by, name=UNCHANGED, scheduled_at=UNCHANGED, rate_per_second=UNCHANGED) -> Campaign:
    """Apply the given changes (arguments left UNCHANGED are kept), all or nothing, audited as
    `campaign.changed` with each field's old and new value."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        changed = campaign_changes_validate(campaign=campaign, name=name, scheduled_at=scheduled_at,
                                            rate_per_second=rate_per_second)
        if not changed:
            return campaign
        details = {field: {"from": _plain(getattr(campaign, field)), "to": _plain(value)} for field, value in changed.items()}
        for field, value in changed.items():
            setattr(campaign, field, value)
        if campaign.status == Status.SCHEDULED and campaign.scheduled_at is None:
            campaign.status = Status.DRAFT
            details["status"] = {"from": Status.SCHEDULED, "to": Status.DRAFT}
        campaign.save(update_fields=[*changed, "status", "updated_at"])
        audit_record(actor=by, action="campaign.changed", target=campaign, details=details)
    return campaign


def campaign_changes_validate(*, campaign: Campaign, name=UNCHANGED, scheduled_at=UNCHANGED,
                              rate_per_second=UNCHANGED) -> dict:
    """The fields that would change, cleaned ({field: new value}); an ApplicationError (400 for a
    bad value, with its field; 409 for a state that cannot change) otherwise. Writes nothing: the
    admin's form checks with it before `campaign_edit` applies the change under the row lock."""
    now = timezone.now()
    _refuse_unless_editable(campaign, now=now)
    changes = {}
    if name is not UNCHANGED:
        changes["name"] = _valid_name(name)
    if scheduled_at is not UNCHANGED:
        changes["scheduled_at"] = _valid_time(scheduled_at, now=now)
    if rate_per_second is not UNCHANGED:
        changes["rate_per_second"] = _valid_rate(rate_per_second, channel=campaign.channel)
    return {field: value for field, value in changes.items() if getattr(campaign, field) != value}


def campaign_is_editable(campaign: Campaign) -> bool:
    try:
        _refuse_unless_editable(campaign, now=timezone.now())
    except ApplicationError:
        return False
    return True


def _refuse_unless_editable(campaign: Campaign, *, now) -> None:
    if campaign.status not in (Status.DRAFT, Status.SCHEDULED):
        raise ApplicationError(
            f"This campaign is {campaign.get_status_display().lower()}; only a draft or a scheduled campaign can be "
            "changed.", code="invalid_state", field="status", status=409)
    if campaign.status == Status.SCHEDULED and campaign.scheduled_at <= now:
        raise ApplicationError("This campaign's time has come and it is starting to send; it can no longer be changed "
                               "(pause or stop it instead).", code="invalid_state", field="status", status=409)


def _valid_name(name) -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("A campaign needs a name.", code="required", field="name", status=400)
    if len(name) > 200:
        raise ApplicationError(f"The name is {len(name)} characters long; the limit is 200.", code="too_long", field="name",
                               status=400)
    return name


def _valid_time(scheduled_at, *, now):
    if scheduled_at is not None and scheduled_at <= now:
        raise ApplicationError("scheduled_at is in the past; give a time ahead, or null to unschedule.",
                               code="in_the_past", field="scheduled_at", status=400)
    return scheduled_at


def _valid_rate(rate_per_second, *, channel: str):
    """As at creation: a cap between 0 and what the account and the sender allow; None for no cap."""
    if rate_per_second is None:
        return None
    allowed = rate_allowed(channel)
    if not 0 < rate_per_second <= allowed + 1e-9:
        raise ApplicationError(f"rate_per_second may lower the sending rate, between 0 and {allowed:g} messages per second "
                               "(the account's limit and the sender's MPS).", code="invalid_rate", field="rate_per_second",
                               status=400)
    return rate_per_second


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
