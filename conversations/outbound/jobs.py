"""Job state: the one owner of a send's state, `OutboundJob` and the send-side fields of its
message (queued → sending, the retry note, failed, unconfirmed).

    pending ──claim──▶ in_flight ──accepted──▶ accepted ──(report or lookup)──▶ settled
     │ ▲                  │ transient / 429: pending again, later
     │ └──────────────────┤ permanent: failed          ambiguous: unconfirmed ──report──▶ accepted | failed
     │                    └ lease expired: pending (nothing went out) or unconfirmed (it may have)
     └─withdraw (not claimed yet: its campaign was paused or stopped)─▶ withdrawn, never sent

Claiming and withdrawing are claims.py's (re-exported here). Delivery reports reach a job only
through `send_report_received()`, which the report path calls.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from conversations import events
from conversations.models import (
    FINAL_FAILURE_STATUSES,
    STATUS_RANK,
    Message,
    MessageStatus,
    OutboundJob,
    SendAttempt,
)
from conversations.reports.rollups import report_mark_message
from conversations.sql import db_datetime, execute, table, update_returning
from conversations.plivo_errors import ERROR_UNCONFIRMED, ERROR_UNKNOWN_TO_PLIVO, explain_error_code
from conversations.outbound import pushes
from conversations.outbound.claims import (  # noqa: F401 (re-exported: the job's state machine in one place)
    _lease,
    outbound_job_claim,
    outbound_job_release,
    outbound_jobs_claim_due,
    outbound_jobs_withdraw,
)
from conversations.outbound.transport import RATE_LIMITED_STATUS, Result, SendOutcome
from conversations.background import backoff_seconds
from messaging_site.errors import ApplicationError

# A report of one of these settles a send's fate: no need to ask Plivo about it any more.
SETTLED_STATUSES = (MessageStatus.DELIVERED, MessageStatus.READ, *FINAL_FAILURE_STATUSES)
# Lookups of a send no report settles: after 10, 20, 40, 80, 160 min (past Plivo's 3-hour queue
# expiry, error 420); then it keeps the status Plivo last gave (e.g. sent, the carrier silent).
REPORT_LOOKUPS_MAX = 5
LOOKUP_RETRY_SECONDS = 60
THROTTLED_RETRY_SECONDS = 1.0
State = OutboundJob.State

_ATTEMPT_OUTCOMES = {
    Result.ACCEPTED: SendAttempt.Outcome.ACCEPTED,
    Result.TRANSIENT: SendAttempt.Outcome.TRANSIENT_ERROR,
    Result.THROTTLED: SendAttempt.Outcome.TRANSIENT_ERROR,
    Result.PERMANENT: SendAttempt.Outcome.PERMANENT_ERROR,
    Result.AMBIGUOUS: SendAttempt.Outcome.AMBIGUOUS,
}


def _report_due(now, lookups: int = 0):
    return now + timedelta(seconds=settings.OUTBOUND_REPORT_TIMEOUT_SECONDS * 2 ** lookups)


# --- claiming: claims.py (re-exported here) ----------------------------------------------------------
def attempt_begin(*, job: OutboundJob, requested_by=None) -> SendAttempt | None:
    """Record the attempt a claimed job is about to make, renewing its lease; None when the job
    is no longer this claim's (its lease ran out while it waited for its turn).

    Committed BEFORE the request: if the process dies during it, the recovery sweep finds an
    unfinished attempt and knows the message may have gone out."""
    now = timezone.now()
    # No transaction needed: once renewed, the lease keeps the job this claim's while the
    # attempt is written; dying in between leaves no attempt, and no request was made.
    renewed = OutboundJob.objects.filter(pk=job.pk, state=State.IN_FLIGHT, attempts=job.attempts).update(
        lease_expires_at=_lease(now), updated_at=now)
    if not renewed:
        return None
    return SendAttempt.objects.create(message_id=job.message_id, number=job.attempts, requested_by=requested_by)


def retry_begin(*, message: Message, requested_by) -> OutboundJob:
    """An agent's retry of a failed message: queued again and claimed at once by this request."""
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if not locked.is_outbound:
            raise ApplicationError("Only messages Parley sent can be retried.", code="not_retryable", status=409)
        if locked.status not in FINAL_FAILURE_STATUSES:
            raise ApplicationError(
                f"Only failed messages can be retried; this one is {locked.get_status_display().lower()}.",
                code="not_retryable", status=409)
        job, _ = OutboundJob.objects.get_or_create(message=locked)
        if job.state == State.WITHDRAWN:
            raise ApplicationError("This message was withdrawn before it was sent (its campaign was paused or stopped; "
                                   "a resumed campaign sends a new one), so it cannot be retried.",
                                   code="not_retryable", status=409)
        if job.state in (State.IN_FLIGHT, State.PENDING):
            raise ApplicationError("This message is already being sent.", code="not_retryable", status=409)
        # The old Plivo uuid stays in the attempt history; the new send gets a new one.
        Message.objects.filter(pk=locked.pk).update(
            status=MessageStatus.QUEUED, plivo_message_uuid=None, status_sequence=None, error_code="",
            error_message="", unconfirmed_since=None, next_attempt_at=None, failed_at=None, sent_at=None,
            delivered_at=None, read_at=None, updated_at=now)
        report_mark_message(locked.pk)  # reports (issue 16): no longer failed
        OutboundJob.objects.filter(pk=job.pk).update(
            state=State.IN_FLIGHT, attempts=F("attempts") + 1, next_attempt_at=now, lease_expires_at=_lease(now),
            claimed_by=f"retry by {requested_by}"[:100], report_due_at=None, report_lookups=0, updated_at=now)
        events.broadcast_on_commit(events.message_updated_event(message_for_event(locked.pk)))
        return OutboundJob.objects.select_related("message__conversation__contact").get(pk=job.pk)


# --- outcomes ---------------------------------------------------------------------------------------
def retry_delay_seconds(attempt_number: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base·2^(n-1)·[1, 2). With the defaults (20 s, 5
    attempts) the four waits add up to between 5 and 10 minutes."""
    delay = backoff_seconds(attempt_number, base=float(settings.OUTBOUND_RETRY_BASE_SECONDS), jitter=True)
    if retry_after:
        delay = max(delay, min(retry_after, 300.0))
    return delay


def _attempts_this_round(job: OutboundJob) -> int:
    """Attempts counted against OUTBOUND_MAX_ATTEMPTS: an agent's retry starts a new round, and
    a 429 (Plivo's rate limit, not trouble with this message) does not count."""
    last_manual = SendAttempt.objects.filter(message_id=job.message_id, requested_by__isnull=False).aggregate(n=Max("number"))["n"]
    return (SendAttempt.objects.filter(message_id=job.message_id, number__gte=last_manual or 1)
            .exclude(http_status=RATE_LIMITED_STATUS).count())


def outcome_record(*, job: OutboundJob, attempt: SendAttempt, outcome: SendOutcome) -> None:
    now = timezone.now()
    with transaction.atomic():
        SendAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now, outcome=_ATTEMPT_OUTCOMES[outcome.kind], http_status=outcome.http_status,
            detail=(outcome.detail or outcome.reason)[:2000],
        )
        if outcome.kind == Result.ACCEPTED:
            _accepted(job=job, uuid=outcome.plivo_message_uuid, now=now)
            return
        # The sweeper may have taken the job over while this request ran (lease expired): an
        # acceptance is a fact and is recorded anyway; anything else only if this claim still holds.
        still_ours = OutboundJob.objects.filter(pk=job.pk, state=State.IN_FLIGHT, attempts=job.attempts)
        if not still_ours.exists():
            return
        message_id, detail = job.message_id, outcome.detail[:2000]
        if outcome.kind == Result.THROTTLED:
            delay = (outcome.retry_after or THROTTLED_RETRY_SECONDS) + random.random()
            _retry_later(still_ours, message_id, now=now, delay=delay, detail=detail, error_code=outcome.error_code,
                         note=f"{outcome.reason}; sending again in {max(1, round(delay))} s.")
            return
        round_attempts = _attempts_this_round(job) if outcome.kind == Result.TRANSIENT else 0
        if outcome.kind == Result.TRANSIENT and round_attempts < settings.OUTBOUND_MAX_ATTEMPTS:
            delay = retry_delay_seconds(round_attempts, retry_after=outcome.retry_after)
            _retry_later(still_ours, message_id, now=now, delay=delay, detail=detail, error_code=outcome.error_code,
                         note=f"{outcome.reason}; retrying in {max(1, round(delay))} s "
                              f"(attempt {round_attempts + 1} of {settings.OUTBOUND_MAX_ATTEMPTS}).")
        elif outcome.kind == Result.TRANSIENT:
            still_ours.update(state=State.FAILED, lease_expires_at=None, last_error=detail, updated_at=now)
            message_fail(message_id, error_code=outcome.error_code,
                         reason=f"Not sent: {outcome.reason} on all {round_attempts} attempts. "
                                "Retry it once Plivo is reachable again.")
        elif outcome.kind == Result.PERMANENT:
            still_ours.update(state=State.FAILED, lease_expires_at=None, last_error=detail, updated_at=now)
            message_fail(message_id, error_code=outcome.error_code, reason=outcome.reason)
        else:
            still_ours.update(state=State.UNCONFIRMED, lease_expires_at=None, last_error=detail, updated_at=now)
            message_mark_unconfirmed(message_id, reason=outcome.reason, now=now)


def _accepted(*, job: OutboundJob, uuid: str, now) -> None:
    # A delivery report matched by our ref may already have arrived: keep what it said. One
    # statement writes the message and reads it back for its event.
    not_sending_yet = f"status_rank < {STATUS_RANK[MessageStatus.SENDING]}"
    not_failed = f"status_rank < {STATUS_RANK[MessageStatus.FAILED]}"
    message = update_returning(Message, assignments=(
        f"plivo_message_uuid = %s, status = CASE WHEN {not_sending_yet} THEN %s ELSE status END, "
        f"unconfirmed_since = CASE WHEN {not_failed} THEN NULL ELSE unconfirmed_since END, "
        f"error_code = CASE WHEN {not_failed} THEN '' ELSE error_code END, "
        f"error_message = CASE WHEN {not_failed} THEN '' ELSE error_message END, "
        "next_attempt_at = NULL, updated_at = %s"), where="id = %s",
        params=[uuid, MessageStatus.SENDING.value, db_datetime(now), job.message_id])
    OutboundJob.objects.filter(pk=job.pk).update(
        state=State.ACCEPTED, lease_expires_at=None, last_error="", report_lookups=0, updated_at=now,
        report_due_at=None if message.status in SETTLED_STATUSES else _report_due(now))
    events.broadcast_on_commit(events.message_updated_event(message), batch=pushes.batch())


def _retry_later(still_ours, message_id: int, *, now, delay: float, detail: str, error_code: str, note: str) -> None:
    next_at = now + timedelta(seconds=delay)
    still_ours.update(state=State.PENDING, next_attempt_at=next_at, lease_expires_at=None, last_error=detail, updated_at=now)
    Message.objects.filter(pk=message_id).update(error_code=error_code, error_message=note[:500], next_attempt_at=next_at,
                                                 updated_at=now)
    events.broadcast_on_commit(events.message_updated_event(message_for_event(message_id)))


def message_for_event(message_id: int) -> Message:
    return Message.objects.select_related("sent_by", "reply_to").get(pk=message_id)


def message_fail(message_id: int, *, error_code: str, reason: str) -> None:
    now = timezone.now()
    changed = Message.objects.filter(pk=message_id, status_rank__lt=STATUS_RANK[MessageStatus.FAILED]).update(
        status=MessageStatus.FAILED, failed_at=now, error_code=error_code[:32], error_message=reason[:500],
        unconfirmed_since=None, next_attempt_at=None, updated_at=now)
    if changed:
        report_mark_message(message_id)  # reports (issue 16)
        events.broadcast_on_commit(events.message_updated_event(message_for_event(message_id)))


def message_mark_unconfirmed(message_id: int, *, reason: str, now) -> None:
    changed = Message.objects.filter(pk=message_id, status_rank__lt=STATUS_RANK[MessageStatus.SENT]).update(
        unconfirmed_since=now, error_code=ERROR_UNCONFIRMED, error_message=reason[:500], next_attempt_at=None,
        updated_at=now)
    if changed:
        events.broadcast_on_commit(events.message_updated_event(message_for_event(message_id)))


# --- delivery reports and lookups -------------------------------------------------------------------
def send_report_received(*, message_id: int, status: MessageStatus | None, error_code: str) -> None:
    """A delivery report for one of our sends was applied (called by the report path, inside its
    transaction; `status` is what the report means for the message, None if nothing).

    Any report settles an unconfirmed send (Plivo had it; a failure report fails it). A report
    that does not settle the message's fate (queued, sent) moves the lookup on."""
    now = timezone.now()
    failed = status in FINAL_FAILURE_STATUSES
    settled_state = State.FAILED if failed else State.ACCEPTED
    # Hand-written: every delivery report runs it, and the ORM's CASE update cost more than it.
    # Each CASE reads the row as it was, so `last_error` follows the old state too.
    execute(
        f"UPDATE {table(OutboundJob)} SET "
        "state = CASE WHEN state = %s THEN %s ELSE state END, "
        "last_error = CASE WHEN state = %s THEN %s ELSE last_error END, "
        "report_due_at = %s, updated_at = %s "
        "WHERE message_id = %s AND state IN (%s, %s)",
        [State.UNCONFIRMED, settled_state, State.UNCONFIRMED, explain_error_code(error_code) if failed else "",
         None if status in SETTLED_STATUSES else db_datetime(_report_due(now)), db_datetime(now),
         message_id, State.UNCONFIRMED, State.ACCEPTED],
    )


def report_lookups_claim(*, limit: int) -> list[OutboundJob]:
    """Take up to `limit` accepted sends whose report is overdue, to ask Plivo about them. The
    claim moves their due time on, so no other worker asks at the same time (nor forgets to,
    if this one dies)."""
    now = timezone.now()
    with transaction.atomic():
        pks = list(OutboundJob.objects.filter(report_due_at__lte=now).order_by("report_due_at")
                   .select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        OutboundJob.objects.filter(pk__in=pks).update(report_due_at=now + timedelta(seconds=LOOKUP_RETRY_SECONDS))
    return list(OutboundJob.objects.select_related("message").filter(pk__in=pks))


def report_lookup_done(*, job: OutboundJob) -> None:
    """Plivo answered a lookup (and its state was applied as a report): ask again later, with
    longer waits, while the message's fate stays open; give up after REPORT_LOOKUPS_MAX."""
    now = timezone.now()
    status = Message.objects.values_list("status", flat=True).get(pk=job.message_id)
    lookups = job.report_lookups + 1
    due = None if status in SETTLED_STATUSES or lookups >= REPORT_LOOKUPS_MAX else _report_due(now, lookups)
    OutboundJob.objects.filter(pk=job.pk, state=State.ACCEPTED).update(report_due_at=due, report_lookups=lookups, updated_at=now)


def send_unknown_to_plivo(*, job: OutboundJob) -> None:
    """Plivo accepted the send but, looked up later, does not know it: it was not sent."""
    now = timezone.now()
    with transaction.atomic():
        if OutboundJob.objects.filter(pk=job.pk, state=State.ACCEPTED).update(
                state=State.FAILED, report_due_at=None, last_error="unknown to Plivo when looked up", updated_at=now):
            message_fail(job.message_id, error_code=ERROR_UNKNOWN_TO_PLIVO, reason=(
                "Not sent: Plivo accepted this message but later had no record of it, and no delivery report came. "
                "Retry sends it again."))


# --- recovery (the sweep decides which jobs to look at) -----------------------------------------
def lease_expired_settle(*, job: OutboundJob, now) -> str:
    """A worker's lease on `job` ran out (it died): released if its request never started,
    unconfirmed if it may have reached Plivo (never resent blindly)."""
    attempt = SendAttempt.objects.filter(message_id=job.message_id, number=job.attempts).first()
    jobs = OutboundJob.objects.filter(pk=job.pk, state=State.IN_FLIGHT, attempts=job.attempts)
    if attempt is None:
        jobs.update(state=State.PENDING, attempts=F("attempts") - 1, next_attempt_at=now, lease_expires_at=None,
                    claimed_by="", updated_at=now)
        return "released"
    if attempt.finished_at is None:
        SendAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now, outcome=SendAttempt.Outcome.AMBIGUOUS,
            detail=f"the worker {job.claimed_by} stopped during the request (lease expired)")
    if jobs.update(state=State.UNCONFIRMED, lease_expires_at=None, last_error="worker stopped during the request",
                   updated_at=now):
        message_mark_unconfirmed(job.message_id, now=now, reason=(
            "The sending worker stopped while talking to Plivo, so the message may or may not have been sent. "
            "Waiting for Plivo's delivery report before deciding."))
    return "unconfirmed"


def unconfirmed_settle(*, job: OutboundJob, now) -> str | None:
    """An unconfirmed send: confirmed once a report arrived, failed after
    OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS without one ("may not have been sent")."""
    message = Message.objects.get(pk=job.message_id)
    jobs = OutboundJob.objects.filter(pk=job.pk, state=State.UNCONFIRMED)
    if message.plivo_message_uuid or message.unconfirmed_since is None or message.status_rank >= STATUS_RANK[MessageStatus.SENT]:
        jobs.update(state=State.ACCEPTED, last_error="", updated_at=now)
        return "confirmed"
    deadline = now - timedelta(seconds=settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS)
    if message.unconfirmed_since <= deadline and jobs.update(state=State.FAILED, updated_at=now):
        minutes = max(1, round(settings.OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS / 60))
        message_fail(job.message_id, error_code=ERROR_UNCONFIRMED, reason=(
            f"Plivo never confirmed this message and no delivery report arrived within {minutes} min, so it may not "
            "have been sent. Check with the customer before sending it again (Retry sends it again)."))
        return "timed_out"
    return None
