"""Medians and 90th percentiles of the report's durations, exactly as PostgreSQL's percentile_cont
over the `ReportDuration` rows gives them, without reading them all.

`ReportDurationCount` holds how many durations of each day × channel × agent × label × kind fall
in each bucket of `DURATION_BUCKETS`. One query sums the range's counts per kind, agent and bucket;
from them the rank of each wanted value (and its interpolation neighbour) is known, and so is the
bucket that holds it. One more statement then reads, per wanted value, the matching durations
from that bucket's lower bound in index order, skipping the rows of the bucket that come before
(OFFSET) and taking two (the value and its neighbour, which may be in a later bucket).
"""

import bisect
import json
import math
from collections import Counter, defaultdict

from django.db import connection
from django.db.models import Sum

from conversations.reports.models import ALL_LABELS, NO_AGENT, ReportDuration, ReportDurationCount


def _bucket_bounds() -> tuple[int, ...]:
    # Integers (exact as floats, so SQL and Python agree on which side a value is), about 25%
    # apart from one second to ten years; bucket 0 is below one second.
    bounds, bound = [], 1
    while bound < 10 * 365 * 86400:
        bounds.append(bound)
        bound = max(bound + 1, round(bound * 1.25))
    return tuple(bounds)


DURATION_BUCKETS = _bucket_bounds()
FRACTIONS = (0.5, 0.9)
BELOW_EVERYTHING = -1e300  # bucket 0's lower bound (durations are never that negative)


def bucket_of(seconds: float) -> int:
    return bisect.bisect_right(DURATION_BUCKETS, seconds)


def bucket_floor(bucket: int) -> float:
    return float(DURATION_BUCKETS[bucket - 1]) if bucket else BELOW_EVERYTHING


def duration_counts_recount(day) -> None:
    """Replace the `ReportDurationCount` rows of `day` with a count of its `ReportDuration` rows."""
    counts = Counter()
    for kind, channel, agent_id, labels, seconds in ReportDuration.objects.filter(
            kind__in=ReportDuration.Kind.values, day=day).values_list(
            "kind", "channel", "agent_id", "labels", "seconds").iterator(chunk_size=5000):
        bucket = bucket_of(seconds)
        for label_id in (ALL_LABELS, *set(labels or ())):
            counts[(channel, agent_id, label_id, kind, bucket)] += 1
    ReportDurationCount.objects.filter(day=day)._raw_delete(ReportDurationCount.objects.db)
    ReportDurationCount.objects.bulk_create(
        [ReportDurationCount(day=day, channel=channel, agent_id=agent_id, label_id=label_id, kind=kind, bucket=bucket,
                             count=count)
         for (channel, agent_id, label_id, kind, bucket), count in counts.items()],
        batch_size=5000,
    )


def percentile_cont(ordered: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _conditions(report, *, label_in_sql: bool = True) -> tuple[list[str], list]:
    """The range's filter on `ReportDuration` rows (alias d), as SQL and parameters."""
    where, params = ["d.day BETWEEN %s AND %s"], [report.date_from, report.date_to]
    if report.channel:
        where.append("d.channel = %s")
        params.append(report.channel)
    if report.agent_id is not None:
        where.append("d.agent_id = %s")
        params.append(report.agent_id)
    if report.label_id is not None and label_in_sql:
        if connection.vendor == "postgresql":
            where.append("d.labels @> %s::jsonb")
            params.append(f"[{int(report.label_id)}]")
        else:
            where.append("EXISTS (SELECT 1 FROM json_each(d.labels) WHERE json_each.value = %s)")
            params.append(int(report.label_id))
    return where, params


def durations_selected(report, kinds) -> list[tuple]:
    """(kind, agent_id or None for everyone, median, p90) per kind and agent with durations in
    the range (not for agent 0: no agent), read bucket by bucket. Two queries at most."""
    counts = ReportDurationCount.objects.filter(
        kind__in=kinds, label_id=ALL_LABELS if report.label_id is None else report.label_id,
        day__gte=report.date_from, day__lte=report.date_to)
    if report.channel:
        counts = counts.filter(channel=report.channel)
    if report.agent_id is not None:
        counts = counts.filter(agent_id=report.agent_id)
    histograms = defaultdict(Counter)  # (kind, agent_id or None) -> {bucket: count}
    for kind, agent_id, bucket, count in counts.values_list("kind", "agent_id", "bucket").annotate(
            total=Sum("count")).values_list("kind", "agent_id", "bucket", "total"):
        histograms[(kind, None)][bucket] += count
        if agent_id != NO_AGENT:
            histograms[(kind, agent_id)][bucket] += count
    wanted = {}  # (kind, agent_id, bucket, skip) -> the values read
    positions = {}  # (kind, agent_id) -> [(fraction's position, its read)]
    for group, histogram in histograms.items():
        total = sum(histogram.values())
        for fraction in FRACTIONS:
            position = fraction * (total - 1)
            rank, before = math.floor(position), 0
            for bucket in sorted(histogram):
                if rank < before + histogram[bucket]:
                    break
                before += histogram[bucket]
            read = (*group, bucket, rank - before)
            wanted[read] = None
            positions.setdefault(group, []).append((position - rank, read))
    _read(report, wanted)
    found = []
    for (kind, agent_id), pair in positions.items():
        values = []
        for proportion, read in pair:
            lower, upper = wanted[read]
            values.append(lower + (upper - lower) * proportion)
        found.append((kind, agent_id, *values))
    return found


def _read(report, wanted: dict) -> None:
    """Fill `wanted` {(kind, agent_id, bucket, skip): (value, next value)} in one statement."""
    if not wanted:
        return
    where, params = _conditions(report)
    condition = " AND ".join(where)
    table = ReportDuration._meta.db_table
    parts, all_params = [], []
    reads = list(wanted)
    for number, (kind, agent_id, bucket, skip) in enumerate(reads):
        by_agent = "" if agent_id is None else "AND d.agent_id = %s "
        parts.append(
            f"SELECT %s AS n, s.seconds FROM (SELECT d.seconds FROM {table} d WHERE d.kind = %s {by_agent}"
            f"AND d.seconds >= %s AND {condition} ORDER BY d.seconds LIMIT 2 OFFSET %s) s"
        )
        all_params += [number, kind, *([] if agent_id is None else [agent_id]), bucket_floor(bucket), *params, skip]
    values = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), all_params)
        for number, seconds in cursor.fetchall():
            values[number].append(seconds)
    for number, read in enumerate(reads):
        ordered = sorted(values[number])
        # The last value has no neighbour: percentile_cont takes it alone.
        wanted[read] = (ordered[0], ordered[-1])


def durations_read_all(report, kinds) -> list[tuple]:
    """The same as `durations_selected`, from every duration of the range read into Python (the
    reference the tests compare with)."""
    where, params = _conditions(report, label_in_sql=False)
    table = ReportDuration._meta.db_table
    condition = " AND ".join(["d.kind IN (%s, %s)", *where])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT d.kind, d.agent_id, d.seconds, d.labels FROM {table} d WHERE {condition}",
                       [*kinds, *params])
        rows = cursor.fetchall()
    groups = defaultdict(list)
    for kind, agent_id, seconds, labels in rows:
        if report.label_id is not None and report.label_id not in _labels(labels):
            continue
        groups[(kind, None)].append(seconds)
        if agent_id != NO_AGENT:
            groups[(kind, agent_id)].append(seconds)
    found = []
    for (kind, agent_id), values in groups.items():
        values.sort()
        found.append((kind, agent_id, percentile_cont(values, 0.5), percentile_cont(values, 0.9)))
    return found


def _labels(labels) -> list[int]:
    return json.loads(labels) if isinstance(labels, str) else (labels or [])
