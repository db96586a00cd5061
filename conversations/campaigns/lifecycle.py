"""A campaign's lifecycle, enforced here and nowhere else:

    draft ──start──▶ scheduled ──(its time)──▶ sending ──(nothing left)──▶ completed
      └────start (no time, or past)───────────▶   │  ▲
                                                pause resume      stop: from sending, paused, scheduled
                                                  ▼  │            failed: it cannot go on (template no longer approved)
                                                 paused

Every transition locks the campaign row and checks the state it starts from; a refused one is a
409 `ApplicationError` saying why. Creation, start and stop are audited. Pause and stop withdraw
the campaign's queued messages no worker has claimed yet (`queued_withdraw`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.models import MessageTemplate, OutboundJob
from conversations.outbound import pacing
from conversations.outbound.claims import outbound_jobs_withdraw
from conversations.outbound.transport import sender_for
from conversations.privacy.audit import audit_record
from messaging_site.errors import ApplicationError

Status = Campaign.Status


def rate_allowed(channel: str) -> float:
    """Messages per second the engine can give one campaign: the account's API limit (with its
    headroom) and the sender number's MPS, whichever is lower."""
    account = 1 / pacing.account_interval()
    mps = pacing.sender_mps(sender_for(channel))
    return min(account, mps) if mps else account


def campaign_rate(campaign: Campaign) -> float:
    """The rate this campaign is queued at: the creator's, within what is allowed."""
    allowed = rate_allowed(campaign.channel)
    return min(campaign.rate_per_second, allowed) if campaign.rate_per_second else allowed


def _template_check(*, channel: str, name: str, language: str) -> MessageTemplate | None:
    if channel != "whatsapp":
        return None
    template = MessageTemplate.objects.filter(name=name, language=language).first()
    if template is None:
        raise ApplicationError(f"There is no template named {name!r} in language {language!r}.",
                               code="template_not_found", field="template.name")
    if template.status != MessageTemplate.Status.APPROVED:
        raise ApplicationError(
            f"The template {name!r} is {template.get_status_display().lower()}, not approved by WhatsApp; "
            "campaigns send approved templates only.", code="template_not_approved", field="template.name")
    return template


def campaign_create(*, name: str, channel: str, created_by, template: dict | None = None, text: str = "",
                    scheduled_at=None, rate_per_second: float | None = None) -> Campaign:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("A campaign needs a name.", code="required", field="name", status=400)
    if channel not in ("whatsapp", "sms"):
        raise ApplicationError("channel must be whatsapp or sms.", code="invalid_channel", field="channel", status=400)
    template = template or {}
    text = (text or "").strip()
    if channel == "whatsapp":
        if text:
            raise ApplicationError("WhatsApp campaigns send an approved template, not free text (the 24-hour window "
                                   "is closed for most recipients).", code="unexpected_field", field="text", status=400)
        if not template.get("name") or not template.get("language"):
            raise ApplicationError("A WhatsApp campaign needs template.name and template.language.", code="required",
                                   field="template", status=400)
        _template_check(channel=channel, name=template["name"], language=template["language"])
    else:
        if template:
            raise ApplicationError("SMS campaigns send text; templates exist only on WhatsApp.", code="unexpected_field",
                                   field="template", status=400)
        if not text:
            raise ApplicationError("An SMS campaign needs its text ({{1}}, {{2}}... are filled per recipient).",
                                   code="required", field="text", status=400)
        if len(text) > 1600:
            raise ApplicationError(f"The text is {len(text)} characters long; the limit is 1600.", code="too_long", field="text")
    allowed = rate_allowed(channel)
    if rate_per_second is not None and not 0 < rate_per_second <= allowed + 1e-9:
        raise ApplicationError(f"rate_per_second may lower the sending rate, between 0 and {allowed:g} messages per second "
                               "(the account's limit and the sender's MPS).", code="invalid_rate", field="rate_per_second",
                               status=400)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name[:200], channel=channel, template_name=template.get("name", "") if channel == "whatsapp" else "",
            template_language=template.get("language", "") if channel == "whatsapp" else "", text=text,
            scheduled_at=scheduled_at, rate_per_second=rate_per_second, created_by=created_by)
        audit_record(actor=created_by, action="campaign.created", target=campaign,
                     details={"name": campaign.name, "channel": channel})
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _refuse(campaign: Campaign, action: str, allowed_from: str) -> ApplicationError:
    return ApplicationError(f"This campaign is {campaign.get_status_display().lower()}; only a campaign that is "
                            f"{allowed_from} can be {action}.", code="invalid_state", field="status", status=409)


def campaign_start(*, campaign: Campaign, by) -> Campaign:
    """Draft → scheduled (its `scheduled_at` is ahead) or sending (now)."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.DRAFT:
            raise _refuse(campaign, "started", "a draft")
        if not campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).exists():
            raise ApplicationError("This campaign has no recipients to send to; add some first.", code="no_recipients",
                                   field="recipients", status=409)
        try:
            _template_check(channel=campaign.channel, name=campaign.template_name, language=campaign.template_language)
        except ApplicationError as exc:
            exc.status = 409
            raise
        now = timezone.now()
        if campaign.scheduled_at is not None and campaign.scheduled_at > now:
            campaign.status = Status.SCHEDULED
        else:
            campaign.status, campaign.started_at, campaign.next_dispatch_at = Status.SENDING, now, now
        campaign.save(update_fields=["status", "started_at", "next_dispatch_at", "updated_at"])
        audit_record(actor=by, action="campaign.started", target=campaign,
                     details={"status": campaign.status, "scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None})
    return campaign


def campaign_pause(*, campaign: Campaign, by) -> Campaign:
    """Sending → paused, withdrawing the queued messages no worker has claimed yet: their
    recipients are pending again, for the resume."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.SENDING:
            raise _refuse(campaign, "paused", "sending")
        campaign.status = Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
        queued_withdraw(campaign=campaign, reason="Withdrawn before sending: the campaign was paused; resuming it "
                                                  "sends this recipient a new message.")
    return campaign


def campaign_resume(*, campaign: Campaign, by) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.PAUSED:
            raise _refuse(campaign, "resumed", "paused")
        campaign.status, campaign.next_dispatch_at = Status.SENDING, timezone.now()
        campaign.save(update_fields=["status", "next_dispatch_at", "updated_at"])
    return campaign


def campaign_stop(*, campaign: Campaign, by) -> Campaign:
    """Final: recipients not queued yet stay pending and are never sent; queued ones no worker
    has claimed yet are withdrawn (pending, unsent)."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status not in (Status.SENDING, Status.PAUSED, Status.SCHEDULED):
            raise _refuse(campaign, "stopped", "sending, paused or scheduled")
        before = campaign.status
        campaign.status, campaign.finished_at = Status.STOPPED, timezone.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
        withdrawn = queued_withdraw(campaign=campaign, reason="Withdrawn before sending: the campaign was stopped.")
        audit_record(actor=by, action="campaign.stopped", target=campaign, details={"from": before, "withdrawn": withdrawn})
    return campaign


def queued_withdraw(*, campaign: Campaign, reason: str) -> int:
    """Take back the campaign's queued messages no worker has claimed yet (the few seconds of
    backlog the dispatcher keeps): their jobs withdrawn, never sent (`outbound_jobs_withdraw`,
    atomic against a worker's claim), their recipients pending again with no message, so a
    resume queues each once more, exactly once, and a stop leaves them unsent. A message a
    worker already claimed is left to finish. Call holding the campaign's lock (the dispatcher
    queues nothing for it meanwhile). Returns how many were withdrawn."""
    queued = CampaignRecipient.objects.filter(campaign=campaign, status=CampaignRecipient.Status.QUEUED,
                                              message__outbound_job__state=OutboundJob.State.PENDING)
    withdrawn = outbound_jobs_withdraw(message_ids=list(queued.values_list("message_id", flat=True)), reason=reason)
    if withdrawn:
        CampaignRecipient.objects.filter(campaign=campaign, message_id__in=withdrawn).update(
            status=CampaignRecipient.Status.PENDING, message=None, queued_at=None)
    return len(withdrawn)


def campaign_fail(*, campaign: Campaign, reason: str) -> None:
    """The campaign cannot go on (called by the dispatcher; only a sending or scheduled campaign fails)."""
    Campaign.objects.filter(pk=campaign.pk, status__in=[Status.SENDING, Status.SCHEDULED]).update(
        status=Status.FAILED, failure_reason=reason[:500], finished_at=timezone.now(), updated_at=timezone.now())


def template_problem(campaign: Campaign) -> str:
    """Why the campaign's template can no longer be sent ("" when it can)."""
    try:
        _template_check(channel=campaign.channel, name=campaign.template_name, language=campaign.template_language)
    except ApplicationError as exc:
        return exc.message
    return ""


__all__ = ["campaign_create", "campaign_start", "campaign_pause", "campaign_resume", "campaign_stop", "campaign_fail",
           "queued_withdraw",
           "campaign_rate", "rate_allowed", "template_problem"]
