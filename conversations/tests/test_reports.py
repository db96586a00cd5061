"""Reports: known traffic in, exact numbers out (counts, rates, medians and p90s, per day and per
agent), in the team's time zone across a day boundary and a DST change."""

from datetime import date

import pytest

from conversations.models import Label
from conversations.reports.rollups import report_rebuild, report_refresh
from conversations.reports.summary import ReportFilter, report_summary
from conversations.tests.reports_support import (
    agent_notes,
    agent_replies,
    conversation_of,
    customer_writes,
    local,
    plivo_reports,
    status_set,
    team_settings,
)

A, B, C = "+14155550001", "+14155550002", "+14155550003"


@pytest.fixture
def week(agent, other_agent):
    """Fri 6 March 2026 to Mon 9 March in New York; the clocks go forward on Sunday the 8th at 02:00."""
    team_settings("America/New_York")
    alice, bob = agent, other_agent
    customer_writes(A, local("2026-03-06 16:00"))
    reply = agent_replies(alice, A, local("2026-03-06 16:10"))
    plivo_reports(reply, "delivered", local("2026-03-06 16:11"))
    plivo_reports(reply, "read", local("2026-03-06 16:12"))
    status_set(alice, A, "resolved", local("2026-03-06 18:00"))

    customer_writes(B, local("2026-03-07 23:30"), channel="sms")  # already the 8th in UTC
    agent_notes(alice, B, local("2026-03-07 23:40"), channel="sms")  # a note is no reply
    reply = agent_replies(bob, B, local("2026-03-08 00:15"), channel="sms")
    plivo_reports(reply, "failed", local("2026-03-08 00:16"), error_code="30")
    status_set(bob, B, "resolved", local("2026-03-09 09:30"), channel="sms")

    customer_writes(C, local("2026-03-08 01:30"))  # EST
    reply = agent_replies(bob, C, local("2026-03-08 03:30"))  # EDT: one hour later, not two
    plivo_reports(reply, "delivered", local("2026-03-08 03:31"))

    customer_writes(A, local("2026-03-09 10:00"))  # reopens A
    agent_replies(alice, A, local("2026-03-09 10:05"))
    report_refresh()
    return alice, bob


def summary(**filters):
    filters.setdefault("date_from", date(2026, 3, 6))
    filters.setdefault("date_to", date(2026, 3, 9))
    return report_summary(ReportFilter(**filters))


def test_the_week_in_exact_numbers(week):
    report = summary()
    assert {key: report[key] for key in (
        "conversations_opened", "conversations_resolved", "messages_received", "messages_sent", "messages_delivered",
        "messages_read", "messages_failed", "delivery_rate", "read_rate")} == {
        "conversations_opened": 4, "conversations_resolved": 2, "messages_received": 4, "messages_sent": 4,
        "messages_delivered": 2, "messages_read": 1, "messages_failed": 1, "delivery_rate": 0.5, "read_rate": 0.5,
    }
    # First replies after 600 s, 2700 s, 3600 s (across the DST change) and 300 s.
    assert report["first_response_seconds"] == {"median": 1650.0, "p90": 3330.0}
    # Resolved after 2 h and 33 h.
    assert report["resolution_seconds"] == {"median": 63000.0, "p90": 107640.0}
    assert report["failure_reasons"] == [
        {"error_code": "30", "reason": "flagged as spam", "explanation": report["failure_reasons"][0]["explanation"],
         "count": 1}]
    assert "spam" in report["failure_reasons"][0]["explanation"]


def test_days_are_the_teams_across_midnight_and_the_dst_change(week):
    by_day = {entry["date"]: entry for entry in summary()["by_day"]}
    assert list(by_day) == ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]
    picked = ("conversations_opened", "conversations_resolved", "messages_received", "messages_sent",
              "messages_delivered", "messages_read", "messages_failed")
    assert {day: tuple(entry[key] for key in picked) for day, entry in by_day.items()} == {
        "2026-03-06": (1, 1, 1, 1, 1, 1, 0),
        "2026-03-07": (1, 0, 1, 0, 0, 0, 0),  # 23:30 in New York, 04:30 on the 8th in UTC
        "2026-03-08": (1, 0, 1, 2, 1, 0, 1),
        "2026-03-09": (1, 1, 1, 1, 0, 0, 0),
    }
    one_day = summary(date_from=date(2026, 3, 7), date_to=date(2026, 3, 7))
    assert one_day["conversations_opened"] == 1
    assert one_day["first_response_seconds"] == {"median": 2700.0, "p90": 2700.0}
    assert one_day["resolution_seconds"] == {"median": None, "p90": None}


def test_per_agent(week):
    alice, bob = week
    by_agent = {entry["name"]: entry for entry in summary()["by_agent"]}
    assert by_agent == {
        "Alice": {"agent_id": alice.pk, "name": "Alice", "conversations_handled": 2, "replies_sent": 2,
                  "first_response_seconds": {"median": 450.0, "p90": 570.0},
                  "resolution_seconds": {"median": 7200.0, "p90": 7200.0}},
        "Bob": {"agent_id": bob.pk, "name": "Bob", "conversations_handled": 2, "replies_sent": 2,
                "first_response_seconds": {"median": 3150.0, "p90": 3510.0},
                "resolution_seconds": {"median": 118800.0, "p90": 118800.0}},
    }
    only_alice = summary(agent_id=alice.pk)
    assert (only_alice["conversations_opened"], only_alice["messages_received"], only_alice["messages_sent"],
            only_alice["messages_read"]) == (2, 2, 2, 1)
    assert only_alice["first_response_seconds"] == {"median": 450.0, "p90": 570.0}


def test_business_hours_only(week):
    report = summary(business_hours=True)
    # Mon-Fri 09:00-17:00: Friday 16:00-16:10, none over the weekend, Monday 10:00-10:05.
    assert report["first_response_seconds"] == {"median": 150.0, "p90": 510.0}
    # Friday 16:00-17:00; Saturday night to Monday 09:30: half an hour.
    assert report["resolution_seconds"] == {"median": 2700.0, "p90": 3420.0}


def test_channel_and_label_filters(week, agent):
    sms = summary(channel="sms")
    assert (sms["conversations_opened"], sms["conversations_resolved"], sms["messages_received"], sms["messages_sent"],
            sms["messages_failed"], sms["delivery_rate"]) == (1, 1, 1, 1, 1, 0.0)
    billing = Label.objects.create(name="billing")
    from conversations.services.labels import conversation_labels_set
    conversation_labels_set(conversation=conversation_of(C), by=agent, names=["billing"])
    report_refresh()
    labelled = summary(label_id=billing.pk)
    assert (labelled["conversations_opened"], labelled["messages_received"], labelled["messages_sent"],
            labelled["messages_delivered"]) == (1, 1, 1, 1)
    assert labelled["first_response_seconds"] == {"median": 3600.0, "p90": 3600.0}
    assert [(entry["name"], entry["conversations_opened"]) for entry in summary()["by_label"]] == [("billing", 1)]


def test_heat_map_counts_customer_messages_by_local_hour_of_week(week):
    heat = {entry["weekday"]: entry["hours"] for entry in summary()["by_hour_of_week"]}
    written = {(weekday, hour): count for weekday, hours in heat.items() for hour, count in enumerate(hours) if count}
    assert written == {("fri", 16): 1, ("sat", 23): 1, ("sun", 1): 1, ("mon", 10): 1}


def test_a_rebuild_gives_what_the_refresh_kept(week):
    before = summary()
    report_rebuild()
    assert summary() == before


def test_agent_reopening_starts_an_episode(week, agent):
    status_set(agent, A, "resolved", local("2026-03-09 11:00"))
    status_set(agent, A, "open", local("2026-03-09 12:00"))
    agent_replies(agent, A, local("2026-03-09 12:20"))
    report_refresh()
    monday = summary(date_from=date(2026, 3, 9), date_to=date(2026, 3, 9))
    assert monday["conversations_opened"] == 2
    assert monday["conversations_resolved"] == 2
    assert monday["first_response_seconds"]["median"] == (300 + 1200) / 2
