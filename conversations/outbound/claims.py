"""Claims: which due jobs a worker takes (agent replies first, with a lease), giving back one
whose turn comes later, and withdrawing bulk jobs no worker has taken (a campaign paused or
stopped). The rest of a send's state is `jobs.py`'s, which re-exports these.

Claims are conditional UPDATEs (`SKIP LOCKED` on PostgreSQL), so of several racing workers
exactly one holds a job, and a withdrawal never takes a job a worker is claiming.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from conversations import events
from conversations.models import Conversation, Message, MessageStatus, OutboundJob
from conversations.plivo_errors import ERROR_REFUSED
from conversations.reports.rollups import report_mark_message
from conversations.sql import table

State = OutboundJob.State


def _lease(now):
    return now + timedelta(seconds=settings.OUTBOUND_LEASE_SECONDS)


def outbound_job_claim(*, message_id: int, worker_id: str) -> OutboundJob | None:
    """Take the due, pending job of `message_id` with a lease; None if it is not claimable
    (claimed by another worker, not yet due, or finished)."""
    now = timezone.now()
    claimed = OutboundJob.objects.filter(message_id=message_id, state=State.PENDING, next_attempt_at__lte=now).update(
        state=State.IN_FLIGHT, attempts=F("attempts") + 1, lease_expires_at=_lease(now), claimed_by=worker_id[:100],
        updated_at=now)
    if not claimed:
        return None
    return OutboundJob.objects.select_related("message__conversation__contact").get(message_id=message_id)


def outbound_jobs_claim_due(*, limit: int, worker_id: str, exclude_channels=(), bulk_limit: int | None = None) -> list[OutboundJob]:
    """Take up to `limit` due jobs, agent replies before bulk, oldest due first; none of
    `exclude_channels` (their sender has enough sends waiting in this process); with
    `bulk_limit`, at most that many in all, and only agent replies when it is 0 (the worker
    keeps threads free for them)."""
    if bulk_limit is not None and bulk_limit > 0:
        limit = min(limit, bulk_limit)
    replies_only = bulk_limit is not None and bulk_limit <= 0
    now = timezone.now()
    if connection.vendor == "postgresql":
        pks = _claim_postgres(limit=limit, worker_id=worker_id, exclude_channels=exclude_channels,
                              replies_only=replies_only, now=now)
    else:
        pks = _claim(limit=limit, worker_id=worker_id, exclude_channels=exclude_channels, replies_only=replies_only, now=now)
    if not pks:
        return []
    return list(OutboundJob.objects.select_related("message__conversation__contact")
                .filter(pk__in=pks, state=State.IN_FLIGHT, claimed_by=worker_id[:100]).order_by("priority", "pk"))


def _claim(*, limit: int, worker_id: str, exclude_channels, replies_only: bool, now) -> list[int]:
    with transaction.atomic():
        due = OutboundJob.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
        if exclude_channels:
            due = due.exclude(message__conversation__channel__in=list(exclude_channels))
        if replies_only:
            due = due.filter(priority__lt=OutboundJob.Priority.BULK)
        pks = list(due.order_by("priority", "next_attempt_at", "pk").select_for_update(skip_locked=True, of=("self",))
                   .values_list("pk", flat=True)[:limit])
        if pks:
            OutboundJob.objects.filter(pk__in=pks, state=State.PENDING).update(
                state=State.IN_FLIGHT, attempts=F("attempts") + 1, lease_expires_at=_lease(now),
                claimed_by=worker_id[:100], updated_at=now)
        return pks


def _claim_postgres(*, limit: int, worker_id: str, exclude_channels, replies_only: bool, now) -> list[int]:
    """The same claim in one statement (the worker's most frequent one): the row locks of the
    sub-select last until the UPDATE is done, so racing workers still take disjoint jobs."""
    jobs, joins, conditions, params = table(OutboundJob), "", [], [now]  # params in the order of the statement
    if exclude_channels:
        joins = (f" JOIN {table(Message)} m ON m.id = j.message_id"
                 f" JOIN {table(Conversation)} c ON c.id = m.conversation_id")
        conditions.append(f"c.channel NOT IN ({', '.join(['%s'] * len(exclude_channels))})")
        params += list(exclude_channels)
    if replies_only:
        conditions.append("j.priority < %s")
        params.append(OutboundJob.Priority.BULK.value)
    where = "".join(f" AND {condition}" for condition in conditions)
    with connection.cursor() as cursor:
        # MATERIALIZED: the locking select runs exactly once (a sub-select in `IN (...)` may be
        # run again per row and then take more than `limit`).
        cursor.execute(
            f"WITH due AS MATERIALIZED (SELECT j.id FROM {jobs} j{joins} WHERE j.state = 'pending' "
            f"AND j.next_attempt_at <= %s{where} ORDER BY j.priority, j.next_attempt_at, j.id LIMIT %s "
            f"FOR UPDATE OF j SKIP LOCKED) "
            f"UPDATE {jobs} SET state = %s, attempts = attempts + 1, lease_expires_at = %s, claimed_by = %s, updated_at = %s "
            f"FROM due WHERE {jobs}.id = due.id AND {jobs}.state = 'pending' RETURNING {jobs}.id",
            [*params, limit, State.IN_FLIGHT.value, _lease(now), worker_id[:100], now],
        )
        return [row[0] for row in cursor.fetchall()]


def outbound_job_release(*, job: OutboundJob, until) -> bool:
    """Give back a claimed job whose request was not made (its turn comes later): pending again
    from `until`, the claim not counted as an attempt."""
    now = timezone.now()
    return bool(OutboundJob.objects.filter(pk=job.pk, state=State.IN_FLIGHT, attempts=job.attempts).update(
        state=State.PENDING, attempts=F("attempts") - 1, next_attempt_at=until, lease_expires_at=None, claimed_by="",
        updated_at=now))


def outbound_jobs_withdraw(*, message_ids, reason: str) -> list[int]:
    """Take back the jobs among `message_ids` that no worker has claimed: `withdrawn`, never
    sent (not retried by hand either), their messages failed with `reason`. Returns the ids of
    the messages withdrawn. Call inside the caller's transaction.

    Atomic against a worker's claim: the jobs are locked `SKIP LOCKED` like a claim locks them,
    so a job a worker is claiming this instant is left to it (and sent), and a job locked here
    is skipped by every claim until this commits, then is no longer pending."""
    now = timezone.now()
    due = OutboundJob.objects.filter(message_id__in=message_ids, state=State.PENDING)
    pks = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True))
    if not pks:
        return []
    OutboundJob.objects.filter(pk__in=pks, state=State.PENDING).update(
        state=State.WITHDRAWN, lease_expires_at=None, last_error=reason[:2000], updated_at=now)
    withdrawn = list(OutboundJob.objects.filter(pk__in=pks, state=State.WITHDRAWN).values_list("message_id", flat=True))
    Message.objects.filter(pk__in=withdrawn, status=MessageStatus.QUEUED).update(
        status=MessageStatus.FAILED, failed_at=now, error_code=ERROR_REFUSED, error_message=reason[:500],
        next_attempt_at=None, updated_at=now)
    for message_id in withdrawn:
        report_mark_message(message_id)  # reports (issue 16)
    updated = Message.objects.select_related("sent_by", "reply_to").filter(pk__in=withdrawn).order_by("pk")
    events.broadcast_on_commit(*(events.message_updated_event(message) for message in updated))
    return withdrawn
