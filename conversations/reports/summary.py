"""The report: a handful of queries over the rollups, however many messages there are.

One query reads the day rows of the range (the label's own rows when filtered by label, so no
join), one sums the labelled rows per label, one gives the medians and 90th percentiles per agent
and overall (two: the bucket counts, then only the durations of the buckets that hold them, see
percentiles.py), and two name the agents and labels shown.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q, Sum

from conversations.models import Label
from conversations.plivo_errors import (
    ERROR_REFUSED,
    ERROR_UNAVAILABLE,
    ERROR_UNCONFIRMED,
    ERROR_UNKNOWN_TO_PLIVO,
    error_name,
    explain_error_code,
    normalize_error_code,
)
from conversations.reports.hours import WEEKDAYS
from conversations.reports.percentiles import durations_read_all, durations_selected
from conversations.reports.models import ALL_LABELS, NO_AGENT, ReportDay, ReportDuration
from conversations.reports.rollups import COUNTERS

DAY_COUNTERS = COUNTERS
TOP_FAILURE_REASONS = 10
# Codes Parley sets itself, said as plainly as Plivo's.
PARLEY_FAILURES = {
    "": ("no error code", "Failed without an error code."),
    ERROR_REFUSED: ("not sent by Parley", "Parley did not send it: the customer had opted out, WhatsApp's window "
                    "had closed, or the content could not be built."),
    ERROR_UNCONFIRMED: ("never confirmed", "Plivo never confirmed the send and no delivery report came."),
    ERROR_UNKNOWN_TO_PLIVO: ("unknown to Plivo", "Plivo accepted the send but later had no record of it."),
    ERROR_UNAVAILABLE: ("Plivo unreachable", "Plivo could not be reached on any attempt."),
}


@dataclass(frozen=True)
class ReportFilter:
    date_from: date
    date_to: date
    channel: str | None = None
    agent_id: int | None = None
    label_id: int | None = None
    business_hours: bool = False

    @property
    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=n) for n in range((self.date_to - self.date_from).days + 1)]


def failure_reason(code: str) -> dict:
    code = normalize_error_code(code) if code and code[0].isdigit() else (code or "")
    if code in PARLEY_FAILURES:
        reason, explanation = PARLEY_FAILURES[code]
    elif code.startswith("http_"):
        reason, explanation = f"refused by Plivo's API ({code[5:]})", f"Plivo's API refused the request with HTTP {code[5:]}."
    else:
        reason, explanation = error_name(code), explain_error_code(code)
    return {"error_code": code, "reason": reason, "explanation": explanation}


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_summary(report: ReportFilter) -> dict:
    totals, by_day, by_agent, heat, failures = _day_totals(_day_rows(report))
    medians = durations(report)
    for agent_id in medians["by_agent"]:
        by_agent[agent_id]  # noqa: B018 (an agent with episodes but no replies still gets a row)
    names = _agent_names(by_agent)
    return {
        "conversations_opened": totals["conversations_opened"],
        "conversations_resolved": totals["conversations_resolved"],
        "messages_received": totals["messages_received"],
        "messages_sent": totals["messages_sent"],
        "messages_delivered": totals["messages_delivered"],
        "messages_read": totals["messages_read"],
        "messages_failed": totals["messages_failed"],
        "delivery_rate": rate(totals["messages_delivered"], totals["messages_sent"]),
        "read_rate": rate(totals["messages_read"], totals["messages_delivered"]),
        "first_response_seconds": medians["overall"]["first_response_seconds"],
        "resolution_seconds": medians["overall"]["resolution_seconds"],
        "opt_outs": totals["opt_outs"],
        "business_hours": report.business_hours,
        "by_day": _by_day_entries(report, by_day),
        "by_agent": sorted(
            (
                {
                    "agent_id": agent_id,
                    "name": names.get(agent_id, f"User #{agent_id}"),
                    "conversations_handled": counts["conversations_handled"],
                    "replies_sent": counts["replies_sent"],
                    "first_response_seconds": medians["by_agent"].get(agent_id, _NO_DURATIONS)["first_response_seconds"],
                    "resolution_seconds": medians["by_agent"].get(agent_id, _NO_DURATIONS)["resolution_seconds"],
                }
                for agent_id, counts in by_agent.items()
            ),
            key=lambda entry: (entry["name"].casefold(), entry["agent_id"]),
        ),
        "by_label": _by_label(report),
        "by_hour_of_week": [{"weekday": WEEKDAYS[weekday], "hours": hours} for weekday, hours in enumerate(heat)],
        "failure_reasons": [
            {**failure_reason(code), "count": count}
            for code, count in sorted(failures.items(), key=lambda item: (-item[1], item[0]))[:TOP_FAILURE_REASONS]
        ],
    }


def report_by_day(report: ReportFilter) -> list[dict]:
    """The per-day chart alone (one query)."""
    return _by_day_entries(report, _day_totals(_day_rows(report))[1])


def _by_day_entries(report: ReportFilter, by_day: dict) -> list[dict]:
    return [{"date": day.isoformat(), **{counter: by_day[day][counter] for counter in DAY_COUNTERS}}
            for day in report.days]


def _day_totals(day_rows: list[dict]):
    """(totals, per day, per agent, heat map, failures per code) summed from the day rows."""
    totals, by_day, by_agent, failures = Counter(), defaultdict(Counter), defaultdict(Counter), Counter()
    heat = [[0] * 24 for _ in WEEKDAYS]
    for row in day_rows:
        if row["opt_outs_only"]:
            totals["opt_outs"] += row["opt_outs"]
            by_day[row["day"]]["opt_outs"] += row["opt_outs"]
            continue
        counts = {counter: row[counter] for counter in DAY_COUNTERS}
        totals.update(counts)
        by_day[row["day"]].update(counts)
        if row["agent_id"] != NO_AGENT:
            by_agent[row["agent_id"]]["replies_sent"] += row["messages_sent"]
            by_agent[row["agent_id"]]["conversations_handled"] += row["conversations_opened"]
        weekday = row["day"].weekday()
        for hour, received in enumerate(row["received_by_hour"] or ()):
            heat[weekday][hour] += received
        failures.update(row["failures"] or {})
    return totals, by_day, by_agent, heat, failures


_EMPTY = {"median": None, "p90": None}
_NO_DURATIONS = {"first_response_seconds": _EMPTY, "resolution_seconds": _EMPTY}


def _dimensions(report: ReportFilter) -> Q:
    where = Q(day__gte=report.date_from, day__lte=report.date_to)
    if report.channel:
        where &= Q(channel=report.channel)
    if report.agent_id is not None:
        where &= Q(agent_id=report.agent_id)
    return where


def _day_rows(report: ReportFilter) -> list[dict]:
    """The range's rows: the label's (or the all-labels ones), plus the channel's opt-out rows,
    which an agent or label filter would otherwise leave out (opt-outs have neither)."""
    label_id = ALL_LABELS if report.label_id is None else report.label_id
    rows = Q(label_id=label_id) & _dimensions(report)
    opt_outs = Q(label_id=ALL_LABELS, agent_id=NO_AGENT, opt_outs__gt=0, day__gte=report.date_from, day__lte=report.date_to)
    if report.channel:
        opt_outs &= Q(channel=report.channel)
    found = list(ReportDay.objects.filter(rows | opt_outs).values(
        "day", "agent_id", "label_id", *DAY_COUNTERS, "received_by_hour", "failures"))
    result = []
    for row in found:
        in_rows = row["label_id"] == label_id and (report.agent_id is None or row["agent_id"] == report.agent_id)
        if not in_rows:
            result.append({"day": row["day"], "opt_outs": row["opt_outs"], "opt_outs_only": True})
            continue
        result.append({**row, "opt_outs_only": False})
    return result


def _by_label(report: ReportFilter) -> list[dict]:
    where = _dimensions(report) & ~Q(label_id=ALL_LABELS)
    if report.label_id is not None:
        where &= Q(label_id=report.label_id)
    sums = {row["label_id"]: row for row in ReportDay.objects.filter(where).values("label_id").annotate(
        **{counter: Sum(counter) for counter in DAY_COUNTERS if counter != "opt_outs"})}
    labels = Label.objects.filter(pk__in=list(sums)).values_list("pk", "name", "colour")
    return sorted(
        ({"label_id": pk, "name": name, "colour": colour,
          **{counter: sums[pk][counter] or 0 for counter in DAY_COUNTERS if counter != "opt_outs"}}
         for pk, name, colour in labels),
        key=lambda entry: entry["name"].casefold(),
    )


def _agent_names(by_agent) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=list(by_agent)).only("pk", "username", "first_name", "last_name")
    return {user.pk: user.get_full_name() or user.username for user in users}


# --- medians and 90th percentiles (see percentiles.py) ----------------------------------------------------
def durations(report: ReportFilter, *, in_database: bool = True) -> dict:
    """{"overall": {...}, "by_agent": {agent_id: {...}}} of median and p90 first response (episodes
    opened in the range) and resolution (episodes resolved in it). `in_database`: read bucket by
    bucket (the report's way), or every duration of the range read into Python (the reference)."""
    Kind = ReportDuration.Kind
    kinds = (Kind.FIRST_RESPONSE_BUSINESS, Kind.RESOLUTION_BUSINESS) if report.business_hours \
        else (Kind.FIRST_RESPONSE, Kind.RESOLUTION)
    found = (durations_selected if in_database else durations_read_all)(report, kinds)
    result = {"overall": dict(_NO_DURATIONS), "by_agent": {}}
    names = {kinds[0]: "first_response_seconds", kinds[1]: "resolution_seconds"}
    for kind, agent_id, median, p90 in found:
        entry = result["overall"] if agent_id is None else result["by_agent"].setdefault(agent_id, dict(_NO_DURATIONS))
        entry[names[kind]] = {"median": _round(median), "p90": _round(p90)}
    result["by_agent"].pop(NO_AGENT, None)
    return result


def _round(seconds):
    return None if seconds is None else round(seconds, 1)
