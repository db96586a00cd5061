"""The dispatcher: a chore of the outbound worker that hands campaign recipients to the one send
path (`messages_queue_bulk`, at bulk priority), paced to each campaign's rate.

Each batch, in ONE transaction: claim due pending recipients (`SKIP LOCKED`), check each again
at this moment (consent, quiet hours, a number that already received this campaign), queue
their messages in one go (the send path makes its own checks: a refusal skips that recipient
with its reason) and mark them queued with the link to their message (unique), a fixed number
of queries per batch. A worker killed mid-batch rolls the whole batch back; a committed
recipient is never queued again, whatever restarts or pauses follow.

The outbound queue is kept short (`BACKLOG_SECONDS` of the campaign's rate in bulk jobs), so
agent replies, sent first anyway, never wait behind a campaign's thousands, and a pause or stop
takes effect within seconds.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import events
from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.campaigns import results, rules
from conversations.campaigns.lifecycle import campaign_fail, campaign_rate, template_problem
from conversations.models import Contact, Conversation, OutboundJob
from conversations.outbound import BulkMessage, messages_queue_bulk
from conversations.sql import case_by_id, db_datetime, table

logger = logging.getLogger(__name__)

BATCH_MAX = 200
BACKLOG_SECONDS = 2.0
CATCH_UP_SECONDS = 1.0  # after a pause in dispatching, at most this much of the rate at once
PROGRESS_EVERY_SECONDS = 2.0
# Recently finished campaigns keep sending progress (their delivery reports still arrive).
PROGRESS_AFTER_FINISH = timedelta(minutes=30)

Status = Campaign.Status
Reason = CampaignRecipient.SkipReason
SEND_REFUSALS = {"opted_out": Reason.OPTED_OUT, "invalid_phone": Reason.INVALID_NUMBER}
_progress_sent: dict[int, dict] = {}  # this process's last campaign.updated per campaign


def campaigns_dispatch() -> int:
    """The chore: start scheduled campaigns that are due, then one batch of each sending
    campaign. Returns how many recipients were queued."""
    now = timezone.now()
    # One statement: a schedule moved later (PATCH) in the meantime is never started early.
    Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).update(
        status=Status.SENDING, started_at=now, next_dispatch_at=now, updated_at=now)
    queued = 0
    for campaign_id in Campaign.objects.filter(status=Status.SENDING).values_list("pk", flat=True):
        queued += campaign_dispatch_batch(campaign_id=campaign_id)
    return queued


def campaigns_have_due_recipients() -> bool:
    """Whether a sending campaign still has recipients to queue now (an `--until-idle` worker
    is not idle then; recipients waiting for their morning do not count)."""
    now = timezone.now()
    return CampaignRecipient.objects.filter(
        campaign__status__in=[Status.SENDING, Status.SCHEDULED], status=CampaignRecipient.Status.PENDING,
    ).filter(Q(not_before__isnull=True) | Q(not_before__lte=now)).filter(
        Q(campaign__status=Status.SENDING) | Q(campaign__scheduled_at__lte=now)).exists()


def campaign_dispatch_batch(*, campaign_id: int) -> int:
    """One batch of one campaign: reserve its share of the campaign's rate (a short lock on the
    campaign, so every worker may dispatch the same campaign at once), then claim, check and
    queue that many recipients in one transaction."""
    reservation = _reserve(campaign_id)
    if reservation is None:
        return 0
    campaign, allowance, rate, now = reservation
    queued, failure, empty = 0, None, False
    try:
        with transaction.atomic():
            if not _still_sending(campaign):
                return 0
            due = (campaign.recipients.filter(status=CampaignRecipient.Status.PENDING)
                   .filter(Q(not_before__isnull=True) | Q(not_before__lte=now)).order_by("id"))
            batch = list(due.select_for_update(skip_locked=True)[:allowance])
            if batch:
                queued, failure = _queue(campaign, batch, now=now)
            empty = not batch
    finally:
        if queued < allowance:  # give back the share this batch did not use
            Campaign.objects.filter(pk=campaign.pk).update(
                next_dispatch_at=F("next_dispatch_at") - timedelta(seconds=(allowance - queued) / rate))
    # After the batch's transaction (which holds the campaign only in share mode): a campaign's
    # state changes under its exclusive lock.
    if failure:
        campaign_fail(campaign=campaign, reason=f"Stopped sending: {failure}")
    elif empty:
        _complete_if_done(campaign, now=now)
    return queued


def _still_sending(campaign: Campaign) -> bool:
    """Whether the campaign is still sending, its row held in share mode until the batch commits:
    a pause or stop (which hold it exclusively while they withdraw the queued messages) either
    waits for this batch, then withdraws what it queued, or is seen here, and nothing is queued."""
    if connection.vendor != "postgresql":
        return Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {table(Campaign)} WHERE id = %s FOR SHARE", [campaign.pk])
        row = cursor.fetchone()
    return row is not None and row[0] == Status.SENDING


def _reserve(campaign_id: int):
    """(campaign, how many recipients may be queued now, rate, now), moving the campaign's
    pacing on by that many; None when it is not due (or another worker holds it this instant)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign_id, status=Status.SENDING).first()
        if campaign is None:
            return None
        now = timezone.now()
        next_at = campaign.next_dispatch_at or now
        if next_at > now:
            return None
        if problem := template_problem(campaign):
            campaign_fail(campaign=campaign, reason=f"Stopped sending: {problem}")
            return None
        rate = campaign_rate(campaign)
        base = max(next_at, now - timedelta(seconds=CATCH_UP_SECONDS))
        allowance = min(BATCH_MAX, int((now - base).total_seconds() * rate) + 1)
        backlog = OutboundJob.objects.filter(state=OutboundJob.State.PENDING, priority=OutboundJob.Priority.BULK).count()
        allowance = min(allowance, int(rate * BACKLOG_SECONDS) + 1 - backlog)
        if allowance <= 0:
            return None
        Campaign.objects.filter(pk=campaign.pk).update(next_dispatch_at=base + timedelta(seconds=allowance / rate))
        return campaign, allowance, rate, now


def _queue(campaign: Campaign, batch: list[CampaignRecipient], *, now) -> tuple[int, str]:
    """Check `batch` and queue its recipients through the send path in one go
    (`messages_queue_bulk`), linking each to its message in the same transaction. Returns how
    many were queued, and why the campaign cannot go on ("" when it can: a template no longer
    approved refuses every recipient)."""
    template = rules.campaign_template(campaign)
    phones = [recipient.phone for recipient in batch]
    refusals = rules.consent_refusals(phones=phones, channel=campaign.channel,
                                      opt_in_required=rules.requires_opt_in(campaign, template))
    already = set(CampaignRecipient.objects.filter(campaign=campaign, phone__in=phones, message__isnull=False)
                  .values_list("phone", flat=True))
    skipped, waiting, to_send = [], [], []
    for recipient in batch:
        if recipient.phone in refusals:
            _skip(skipped, recipient, refusals[recipient.phone], "Opted out (or erased) by the time of sending; not sent."
                  if refusals[recipient.phone] == Reason.OPTED_OUT else "No recorded opt-in on this channel.")
        elif recipient.phone in already:
            _skip(skipped, recipient, Reason.ALREADY_RECEIVED, "This number already received this campaign.")
        elif (wait_until := rules.quiet_hours_wait_until(phone=recipient.phone, now=now)) is not None:
            recipient.not_before = wait_until
            waiting.append(recipient)
        else:
            to_send.append(recipient)
    threads = _conversations_for([recipient.phone for recipient in to_send], channel=campaign.channel)
    by_pk = {recipient.pk: recipient for recipient in to_send}

    def link(messages: dict) -> None:
        # Inside the send path's transaction: the link (unique) commits with its message or not at all.
        message_ids, params = case_by_id({pk: message.pk for pk, message in messages.items()})
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table(CampaignRecipient)} SET status = %s, queued_at = %s, message_id = {message_ids} "
                           f"WHERE id IN ({', '.join(['%s'] * len(messages))})",
                           [CampaignRecipient.Status.QUEUED.value, db_datetime(now), *params, *messages])

    outcome = messages_queue_bulk(within=link, items=[
        BulkMessage(key=recipient.pk, conversation_id=threads[recipient.phone].pk,
                    **rules.message_content(campaign, template, recipient.parameters))
        for recipient in to_send])
    failed = None
    for pk, refusal in outcome.refusals.items():
        if refusal.code.startswith("template_not"):
            failed = refusal
        else:
            _skip(skipped, by_pk[pk], SEND_REFUSALS.get(refusal.code, Reason.INVALID_PARAMETERS), refusal.message)
    if skipped:
        CampaignRecipient.objects.bulk_update(skipped, ["status", "skip_reason", "skip_detail"])
    if waiting:
        CampaignRecipient.objects.bulk_update(waiting, ["not_before"])
    return len(outcome.messages), failed.message if failed is not None else ""


def _conversations_for(phones: list[str], *, channel: str) -> dict[str, Conversation]:
    """Each number's conversation on `channel`, created in bulk where new (a campaign reaches
    mostly new contacts: three queries for the batch instead of several per recipient). Numbers
    on the suppression list never get here (`consent_refusals` took them out)."""
    contacts = {contact.phone: contact for contact in Contact.objects.filter(phone__in=phones)}
    if missing := [phone for phone in phones if phone not in contacts]:
        Contact.objects.bulk_create([Contact(phone=phone) for phone in missing], ignore_conflicts=True)
        contacts.update({contact.phone: contact for contact in Contact.objects.filter(phone__in=missing)})
    by_contact = {c.contact_id: c for c in Conversation.objects.filter(contact__in=list(contacts.values()), channel=channel)}
    if missing_threads := [contact for contact in contacts.values() if contact.pk not in by_contact]:
        Conversation.objects.bulk_create([Conversation(contact=contact, channel=channel) for contact in missing_threads],
                                         ignore_conflicts=True)
        by_contact.update({c.contact_id: c for c in Conversation.objects.filter(contact__in=missing_threads, channel=channel)})
    return {phone: by_contact[contact.pk] for phone, contact in contacts.items()}


def _skip(skipped: list, recipient: CampaignRecipient, reason: str, detail: str) -> None:
    recipient.status, recipient.skip_reason, recipient.skip_detail = CampaignRecipient.Status.SKIPPED, reason, detail[:300]
    skipped.append(recipient)


def _complete_if_done(campaign: Campaign, *, now) -> None:
    """Completed once no recipient is pending (quiet hours included) and every queued message
    has left the outbound queue."""
    if campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).exists():
        return
    if OutboundJob.objects.filter(state__in=[OutboundJob.State.PENDING, OutboundJob.State.IN_FLIGHT],
                                  message__campaign_recipient__campaign=campaign).exists():
        return
    Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(status=Status.COMPLETED, finished_at=now, updated_at=now)


def campaigns_progress_broadcast() -> int:
    """The chore that keeps campaign pages live: a `campaign.updated` event for each active or
    recently finished campaign whose figures changed since this process last sent them."""
    since = timezone.now() - PROGRESS_AFTER_FINISH
    active = Campaign.objects.filter(Q(status__in=[Status.SENDING, Status.PAUSED, Status.SCHEDULED]) | Q(finished_at__gte=since))
    sent = 0
    for campaign in active.select_related("created_by"):
        summary = results.campaign_summary(campaign)
        fingerprint = {"status": campaign.status, "counts": summary["counts"]}
        if _progress_sent.get(campaign.pk) == fingerprint:
            continue
        _progress_sent[campaign.pk] = fingerprint
        with transaction.atomic():
            events.broadcast_on_commit(results.campaign_updated_event(campaign, summary))
        sent += 1
    return sent
