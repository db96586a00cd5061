"""Keeping the rollups equal to a count over the raw rows.

Write paths call `report_mark()` in the transaction of their change: one INSERT of an
append-only marker, so the webhook path neither waits on a shared row nor does the counting.
`report_refresh()` (the outbound worker's chore, and tests) takes the markers in: it rebuilds the
episodes of the conversations they name and recounts each day they touch, from the raw rows.
`report_rebuild()` (`manage.py reports_rebuild`) does that for everything, e.g. after the team's
time zone or business hours change.
"""

import logging
import threading
from collections import Counter, defaultdict
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from conversations.models import ConsentRecord, Conversation, Message, MessageStatus, OutboundJob
from conversations.sql import db_datetime, insert_row, table
from conversations.reports.episodes import INBOUND, OUTBOUND, episode_durations, episode_rows, episodes_walk
from conversations.reports.hours import day_bounds, local_day, schedule_check, zone_check
from conversations.reports.models import (
    ALL_LABELS,
    NO_AGENT,
    ReportDay,
    ReportDuration,
    ReportDurationCount,
    ReportEpisode,
    ReportPending,
    ReportSettings,
)
from conversations.reports.percentiles import duration_counts_recount

logger = logging.getLogger(__name__)
# Keeps our advisory lock apart from anyone else's ("RPT").
REFRESH_LOCK = (0x525054, 1)
REFRESH_BATCH = 5000
REBUILD_CONVERSATIONS_PER_QUERY = 2000
DELIVERED = {MessageStatus.DELIVERED.value, MessageStatus.READ.value}
FAILED = {MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value, MessageStatus.REJECTED.value}
COUNTERS = ("conversations_opened", "conversations_resolved", "messages_received", "messages_sent",
            "messages_delivered", "messages_read", "messages_failed", "opt_outs")
LabelLink = Conversation.labels.through


def report_mark(*, conversation_id: int | None, at=None) -> None:
    """Tell the rollups that `conversation_id` changed at `at` (None: on all its days, as an
    assignment or a label change does), or with no conversation, that the day of `at` did.
    Hand-written (`insert_row`): every inbound message runs it, and the ORM's create cost more
    than the INSERT."""
    insert_row(ReportPending(conversation_id=conversation_id, at=at))


def report_mark_deletion(*, conversation_id: int) -> None:
    """Before `conversation_id` is deleted (with its messages and episodes): mark each day they
    counted on, since once they are gone nothing tells the refresh which days those were."""
    zone = _Team().zone
    days = {local_day(at, zone) for at in Message.objects.filter(conversation_id=conversation_id)
            .values_list("created_at", flat=True)}
    for pair in ReportEpisode.objects.filter(conversation_id=conversation_id).values_list("opened_day", "resolved_day"):
        days.update(day for day in pair if day is not None)
    ReportPending.objects.bulk_create([ReportPending(conversation_id=None, at=day_bounds(day, zone)[0]) for day in sorted(days)]
                                      + [ReportPending(conversation_id=conversation_id, at=None)])


def report_mark_message(message_id: int) -> None:
    """`report_mark` for a message whose status changed: one statement, no look-up first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ReportPending._meta.db_table} (conversation_id, at, created_at) "
            f"SELECT conversation_id, created_at, %s FROM {Message._meta.db_table} WHERE id = %s",
            [db_datetime(timezone.now()), message_id],
        )


class _Team:
    """The team's zone and schedule, parsed once per refresh."""

    def __init__(self):
        found = ReportSettings.load()
        self.zone = zone_check(found.time_zone)
        self.schedule = schedule_check(found.business_hours or {})


def _lock() -> None:
    # One refresh at a time (SQLite already has one writer at a time).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", REFRESH_LOCK)


def report_refresh(*, batch: int = REFRESH_BATCH) -> int:
    """Take in up to `batch` markers; returns how many (0: the rollups were current)."""
    if not ReportPending.objects.exists():
        return 0
    with transaction.atomic():
        _lock()
        pending = list(ReportPending.objects.order_by("id").values_list("id", "conversation_id", "at")[:batch])
        if not pending:
            return 0
        team = _Team()
        days = {local_day(at, team.zone) for _, _, at in pending if at is not None}
        conversation_ids = {conversation_id for _, conversation_id, _ in pending if conversation_id is not None}
        every_day = {conversation_id for _, conversation_id, at in pending if conversation_id is not None and at is None}
        days |= _episodes_replace(conversation_ids, team=team)
        if every_day:
            days |= {local_day(at, team.zone) for at in
                     Message.objects.filter(conversation_id__in=every_day).values_list("created_at", flat=True)}
        for day in sorted(days):
            day_recount(day, zone=team.zone)
        ReportPending.objects.filter(id__in=[marker_id for marker_id, _, _ in pending]).delete()
    return len(pending)


_refreshing = threading.Lock()


def report_refresh_in_background() -> bool:
    """The worker's chore: `report_refresh()` in a thread of its own, so that recounting a busy
    day never holds up the sends the worker's loop claims. False when one is still running.
    Inline when the loop runs inside a transaction (a test driving the worker on its connection)."""
    if connection.in_atomic_block:
        report_refresh()
        return True
    if not _refreshing.acquire(blocking=False):
        return False

    def run():
        try:
            while report_refresh():  # until the markers are all in
                pass
        except Exception:
            logger.exception("report refresh failed; the next one retries")
        finally:
            connection.close()
            _refreshing.release()

    threading.Thread(target=run, name="report-refresh", daemon=True).start()
    return True


def report_rebuild(*, say=lambda text: None) -> dict:
    """Recreate every rollup from the raw rows. Returns what it wrote."""
    with transaction.atomic():
        _lock()
        team = _Team()
        last_marker = ReportPending.objects.aggregate(last=Max("id"))["last"]
        ReportDuration.objects.all()._raw_delete(ReportDuration.objects.db)
        ReportEpisode.objects.all()._raw_delete(ReportEpisode.objects.db)
        ReportDay.objects.all()._raw_delete(ReportDay.objects.db)
        ReportDurationCount.objects.all()._raw_delete(ReportDurationCount.objects.db)
        conversation_ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))
        episodes = 0
        for start in range(0, len(conversation_ids), REBUILD_CONVERSATIONS_PER_QUERY):
            chunk = conversation_ids[start:start + REBUILD_CONVERSATIONS_PER_QUERY]
            episodes += len(_episodes_write(chunk, team=team))
            if start and start % (REBUILD_CONVERSATIONS_PER_QUERY * 50) == 0:
                say(f"  episodes of {start} conversations")
        days = _days_with_data(team.zone)
        for day in days:
            day_recount(day, zone=team.zone)
        if last_marker is not None:
            ReportPending.objects.filter(id__lte=last_marker).delete()
    _analyze_rollups()
    return {"episodes": episodes, "days": len(days), "rows": ReportDay.objects.count()}


def _analyze_rollups() -> None:
    """Fresh statistics for the tables a rebuild just refilled: without them PostgreSQL's planner
    takes a 90-day range's hundred thousand durations for a handful and sorts them all (a 90-day
    summary at 950 ms instead of 141 ms at 4M messages), until autovacuum gets round to them."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (ReportEpisode, ReportDay, ReportDuration, ReportDurationCount):
            cursor.execute(f"ANALYZE {table(model)}")


def _days_with_data(zone) -> list[date]:
    spans = [Message.objects.aggregate(first=Min("created_at"), last=Max("created_at")),
             ConsentRecord.objects.aggregate(first=Min("created_at"), last=Max("created_at"))]
    firsts = [local_day(span["first"], zone) for span in spans if span["first"]]
    lasts = [local_day(span["last"], zone) for span in spans if span["last"]]
    if not firsts:
        return []
    first, last = min(firsts), max(lasts)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _episodes_write(conversation_ids, *, team: _Team) -> list[ReportEpisode]:
    conversations = {pk: (channel, assignee_id) for pk, channel, assignee_id in
                     Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", "channel", "assignee_id")}
    episodes = episodes_walk(episode_rows(list(conversations)), conversations=conversations, zone=team.zone,
                             schedule=team.schedule)
    ReportEpisode.objects.bulk_create(episodes, batch_size=2000)
    labels = defaultdict(list)
    for conversation_id, label_id in LabelLink.objects.filter(conversation_id__in=list(conversations)).order_by(
            "label_id").values_list("conversation_id", "label_id"):
        labels[conversation_id].append(label_id)
    ReportDuration.objects.bulk_create(
        [duration for episode in episodes for duration in episode_durations(episode, labels.get(episode.conversation_id, []))],
        batch_size=5000,
    )
    return episodes


def _episodes_replace(conversation_ids, *, team: _Team) -> set[date]:
    """Rebuild these conversations' episodes; the days whose counts that may change."""
    if not conversation_ids:
        return set()
    old = ReportEpisode.objects.filter(conversation_id__in=conversation_ids)
    days = {day for pair in old.values_list("opened_day", "resolved_day") for day in pair if day is not None}
    ReportDuration.objects.filter(conversation_id__in=conversation_ids)._raw_delete(ReportDuration.objects.db)
    old._raw_delete(ReportEpisode.objects.db)
    for episode in _episodes_write(conversation_ids, team=team):
        days.add(episode.opened_day)
        if episode.resolved_day is not None:
            days.add(episode.resolved_day)
    return days


def never_sent_message_ids():
    """The outbound messages withdrawn before any worker sent them (a paused or stopped
    campaign's queue): in no count, neither sent nor failed."""
    return OutboundJob.objects.filter(state=OutboundJob.State.WITHDRAWN).values("message_id")


def day_recount(day: date, *, zone) -> None:
    """Replace the `ReportDay` rows of `day` with a count over the raw rows (and its durations'
    bucket counts with a count of its `ReportDuration` rows)."""
    start, end = day_bounds(day, zone)
    rows: dict[tuple, dict] = defaultdict(_empty_row)
    messages = Message.objects.filter(created_at__gte=start, created_at__lt=end, direction__in=[INBOUND, OUTBOUND]).exclude(
        pk__in=never_sent_message_ids())
    episodes_opened = ReportEpisode.objects.filter(opened_day=day)
    episodes_resolved = ReportEpisode.objects.filter(resolved_day=day)
    labels = defaultdict(list)
    for source in (messages, episodes_opened, episodes_resolved):
        for conversation_id, label_id in LabelLink.objects.filter(
                conversation_id__in=source.values("conversation_id")).values_list("conversation_id", "label_id"):
            labels[conversation_id].append(label_id)
    labels = {conversation_id: sorted(set(ids)) for conversation_id, ids in labels.items()}

    def add(conversation_id, channel, agent_id, counter, hour=None, failure=None):
        for label_id in (ALL_LABELS, *labels.get(conversation_id, ())):
            row = rows[(channel, agent_id or NO_AGENT, label_id)]
            row[counter] += 1
            if hour is not None:
                row["received_by_hour"][hour] += 1
            if failure is not None:
                row["failures"][failure] += 1

    for conversation_id, direction, status, error_code, sent_by_id, at, channel, assignee_id in messages.values_list(
            "conversation_id", "direction", "status", "error_code", "sent_by_id", "created_at",
            "conversation__channel", "conversation__assignee_id").iterator(chunk_size=5000):
        if direction == INBOUND:
            add(conversation_id, channel, assignee_id, "messages_received", hour=at.astimezone(zone).hour)
            continue
        add(conversation_id, channel, sent_by_id, "messages_sent")
        if status in DELIVERED:
            add(conversation_id, channel, sent_by_id, "messages_delivered")
        if status == MessageStatus.READ:
            add(conversation_id, channel, sent_by_id, "messages_read")
        if status in FAILED:
            add(conversation_id, channel, sent_by_id, "messages_failed", failure=error_code or "")
    for counter, source in (("conversations_opened", episodes_opened), ("conversations_resolved", episodes_resolved)):
        for conversation_id, channel, agent_id in source.values_list("conversation_id", "channel", "agent_id"):
            add(conversation_id, channel, agent_id, counter)
    for (channel,) in ConsentRecord.objects.filter(created_at__gte=start, created_at__lt=end, opted_in=False).values_list("channel"):
        rows[(channel, NO_AGENT, ALL_LABELS)]["opt_outs"] += 1

    ReportDay.objects.filter(day=day).delete()
    ReportDay.objects.bulk_create(
        [ReportDay(day=day, channel=channel, agent_id=agent_id, label_id=label_id, **{
            **row, "failures": dict(row["failures"]),
        }) for (channel, agent_id, label_id), row in rows.items()],
        batch_size=2000,
    )
    duration_counts_recount(day)


def _empty_row() -> dict:
    return {**{counter: 0 for counter in COUNTERS}, "received_by_hour": [0] * 24, "failures": Counter()}
