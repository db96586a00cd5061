"""Report days and business hours in the team's time zone.

A local day is [00:00, next 00:00) in the zone, so a DST change gives a 23- or 25-hour day. A
business-hours duration counts, for each local day it spans, the overlap with that weekday's open
intervals, each interval placed on the day by the zone's rules (so 09:00-17:00 is 8 hours on the
day the clocks change, unless the change falls inside it).
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


def zone_check(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f'"{name}" is not a time zone; use an IANA name such as Europe/Berlin.') from None


def schedule_check(schedule) -> dict[int, list[tuple[time, time | None]]]:
    """The schedule as {weekday 0-6: [(start, end), ...]} (end None: midnight), or ValueError."""
    if not isinstance(schedule, dict):
        raise ValueError('Business hours are a mapping of weekday to intervals, e.g. {"mon": ["09:00-17:00"]}.')
    parsed = {}
    for key, intervals in schedule.items():
        if key not in WEEKDAYS:
            raise ValueError(f'"{key}" is not a weekday; use {", ".join(WEEKDAYS)}.')
        if not isinstance(intervals, list):
            raise ValueError(f'{key}: give a list of intervals such as ["09:00-17:00"].')
        day = []
        for text in intervals:
            match = INTERVAL.match(str(text))
            if not match:
                raise ValueError(f'{key}: "{text}" is not an interval such as 09:00-17:00.')
            start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
            if end_h == 24 and end_m:
                raise ValueError(f'{key}: "{text}" ends after midnight.')
            if (end_h, end_m) <= (start_h, start_m):
                raise ValueError(f'{key}: "{text}" ends before it starts.')
            day.append((time(start_h, start_m), None if end_h == 24 else time(end_h, end_m)))
        day.sort()
        for (_, end), (start, _) in zip(day, day[1:]):
            if end is None or end > start:
                raise ValueError(f"{key}: intervals overlap.")
        parsed[WEEKDAYS.index(key)] = day
    return parsed


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def local_time(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    """`at` (None: the midnight ending it) on local day `day`, in UTC. In UTC because Python
    subtracts two datetimes of the same zone by their wall clocks, ignoring a DST change."""
    if at is None:
        day, at = day + timedelta(days=1), time.min
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day `day` as a [start, end) range in UTC."""
    return local_time(day, time.min, zone), local_time(day, None, zone)


def business_seconds(start: datetime, end: datetime, *, zone: ZoneInfo, schedule: dict) -> float:
    """Seconds of [start, end) within the open hours of `schedule` (as `schedule_check` returns it)."""
    if end <= start or not schedule:
        return 0.0
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = 0.0
    day = local_day(start, zone)
    last = local_day(end, zone)
    while day <= last:
        for open_at, close_at in schedule.get(day.weekday(), ()):
            opens, closes = local_time(day, open_at, zone), local_time(day, close_at, zone)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            if overlap > 0:
                total += overlap
        day += timedelta(days=1)
    return total
