"""The recovery sweep every outbound worker runs (safe from many at once): no send is left
without a fate.

- in_flight jobs whose lease expired (their worker died): pending again if the request never
  started, unconfirmed if it may have reached Plivo (never resent blindly);
- unconfirmed jobs: confirmed once a delivery report arrived, failed ("may not have been sent")
  after OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS without one;
- accepted sends without a settling report for OUTBOUND_REPORT_TIMEOUT_SECONDS (the simulator's
  …4444, reports lost in an outage longer than Plivo's retries): Plivo is asked
  (`GET Message/{uuid}/`) and the state it returns is applied like a delivery report; a
  message Plivo does not know is failed.
"""

from __future__ import annotations

import logging
from typing import Callable

from django.db import transaction
from django.utils import timezone

from conversations.models import OutboundJob
from conversations.outbound import jobs, pacing, transport

logger = logging.getLogger(__name__)

LOOKUPS_PER_SWEEP = 20


def outbound_sweep(*, lookup: Callable[[OutboundJob], object] | None = None) -> dict:
    """One sweep. Lookups make a Plivo request each: by default they run here, one after the
    other; a worker passes `lookup` to run them on its pool."""
    now = timezone.now()
    counts = {"released": 0, "unconfirmed": 0, "confirmed": 0, "timed_out": 0, "looked_up": 0}

    def count(result):
        if result:
            counts[result] += 1

    _each_locked(OutboundJob.objects.filter(state=OutboundJob.State.IN_FLIGHT, lease_expires_at__lt=now),
                 lambda job: count(jobs.lease_expired_settle(job=job, now=now)))
    _each_locked(OutboundJob.objects.filter(state=OutboundJob.State.UNCONFIRMED),
                 lambda job: count(jobs.unconfirmed_settle(job=job, now=now)))
    for job in jobs.report_lookups_claim(limit=LOOKUPS_PER_SWEEP):
        (lookup or report_lookup)(job)
        counts["looked_up"] += 1
    return counts


def _each_locked(queryset, handle, batch: int = 200) -> None:
    """Call `handle(job)` for each job of `queryset`, one transaction per job holding that
    row's lock (PostgreSQL skips rows another sweeper holds; SQLite serialises writers)."""
    for pk in list(queryset.order_by("pk").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            job = queryset.select_for_update(skip_locked=True).filter(pk=pk).first()
            if job is not None:
                handle(job)


def report_lookup(job: OutboundJob) -> str:
    """Ask Plivo what became of an accepted send no report settled, and apply the answer."""
    from conversations.services import delivery_reports  # the report path imports the job module
    from webhooks.payloads import StatusReport

    message = job.message
    if not message.plivo_message_uuid:
        jobs.report_lookup_done(job=job)
        return "no uuid"
    pacing.request_turn()
    found = transport.plivo_message_get(message.plivo_message_uuid)
    if found.unknown:
        jobs.send_unknown_to_plivo(job=job)
        return "unknown"
    if not found.found:
        if found.http_status == transport.RATE_LIMITED_STATUS:
            pacing.rate_limited(retry_after=found.retry_after)
        logger.info("lookup of %s failed (%s); asking again later", message.plivo_message_uuid, found.detail)
        return "failed"
    now = timezone.now()
    received_at = found.updated_at if found.updated_at and found.updated_at <= now else now
    report = StatusReport(message_uuid=message.plivo_message_uuid, status=found.state, error_code=found.error_code,
                          ref=message.pk, raw={"source": "lookup", **(found.raw or {})})
    with transaction.atomic():
        delivery_reports.status_report_apply(report=report, received_at=received_at)
        jobs.report_lookup_done(job=job)
    return found.state
