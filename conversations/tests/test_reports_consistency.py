"""The rollups equal a direct count over the raw rows, kept so as traffic arrives (every write
path marks what it changed), and the report's query count does not grow with the data."""

import random
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from conversations.models import (
    Conversation,
    Label,
    Message,
    ReportDay,
    ReportDuration,
    ReportDurationCount,
    ReportEpisode,
    ReportPending,
)
from conversations.outbound import jobs
from conversations.reports.rollups import report_rebuild, report_refresh
from conversations.reports.summary import ReportFilter, report_summary
from conversations.services.labels import conversation_labels_set
from conversations.tests.reports_support import (
    agent_notes,
    agent_replies,
    assign,
    conversation_of,
    customer_writes,
    direct_counts,
    local,
    plivo_reports,
    status_set,
    team_settings,
)

FIRST_DAY = date(2026, 10, 29)  # New York leaves DST on Sunday 1 November 2026
DAYS = 6
COMPARED = ("conversations_opened", "conversations_resolved", "messages_received", "messages_sent",
            "messages_delivered", "messages_read", "messages_failed")


def traffic(agents, labels, *, customers: int, seed: int = 7, numbers: str = "+1415556") -> None:
    """Customers writing over DAYS days, with replies, reports, notes, resolutions, reopenings,
    reassignments, labels and a retry."""
    rng = random.Random(seed)
    for n in range(customers):
        phone = f"{numbers}{n:04d}"
        channel = rng.choice(["whatsapp", "sms"])
        at = local(f"{FIRST_DAY + timedelta(days=rng.randrange(DAYS - 1))} {rng.randrange(24):02d}:{rng.randrange(60):02d}")
        for _ in range(rng.randint(1, 3)):
            customer_writes(phone, at, channel=channel)
            at += timedelta(minutes=rng.randint(1, 600))
            agent = rng.choice(agents)
            if rng.random() < 0.3:
                agent_notes(agent, phone, at, channel=channel)
            if rng.random() < 0.85:
                reply = agent_replies(agent, phone, at, channel=channel)
                fate = rng.choice(["delivered", "read", "failed", "sent", None])
                if fate == "read":
                    plivo_reports(reply, "delivered", at + timedelta(seconds=5))
                if fate:
                    plivo_reports(reply, fate, at + timedelta(seconds=9), error_code="30" if fate == "failed" else "")
                if fate == "failed" and rng.random() < 0.5:
                    jobs.retry_begin(message=Message.objects.get(pk=reply.pk), requested_by=agent)
            if rng.random() < 0.3:
                holder = conversation_of(phone, channel).assignee or agent  # only the holder hands it on
                assign(holder, phone, rng.choice(agents), at + timedelta(minutes=1), channel=channel)
            if rng.random() < 0.4:
                conversation_labels_set(conversation=conversation_of(phone, channel), by=agent,
                                        names=rng.sample(labels, rng.randint(0, min(2, len(labels)))))
            if rng.random() < 0.7:
                at += timedelta(minutes=rng.randint(5, 3000))
                status_set(agent, phone, "resolved", at, channel=channel)
                if rng.random() < 0.2:
                    at += timedelta(minutes=30)
                    status_set(agent, phone, "open", at, channel=channel)
            at += timedelta(hours=rng.randint(1, 30))


def report_for(**filters):
    filters.setdefault("date_from", FIRST_DAY)
    filters.setdefault("date_to", FIRST_DAY + timedelta(days=DAYS + 3))
    return report_summary(ReportFilter(**filters))


@pytest.fixture
def busy(agent, other_agent):
    team_settings("America/New_York")
    labels = [Label.objects.create(name="billing").name, Label.objects.create(name="vip").name]
    traffic([agent, other_agent], labels, customers=24)
    report_refresh()
    return agent, other_agent


def test_the_report_equals_a_direct_count_over_the_raw_rows(busy):
    alice, _ = busy
    billing = Label.objects.get(name="billing")
    last = FIRST_DAY + timedelta(days=DAYS + 3)
    cases = [{}, {"channel": "sms"}, {"channel": "whatsapp"}, {"label": billing}, {"agent": alice},
             {"channel": "sms", "agent": alice}]
    for day in range(DAYS + 3):
        cases.append({"date_from": FIRST_DAY + timedelta(days=day), "date_to": FIRST_DAY + timedelta(days=day)})
    for case in cases:
        date_from, date_to = case.get("date_from", FIRST_DAY), case.get("date_to", last)
        direct = direct_counts(date_from=date_from, date_to=date_to, channel=case.get("channel"),
                               agent=case.get("agent"), label=case.get("label"))
        report = report_for(date_from=date_from, date_to=date_to, channel=case.get("channel"),
                            agent_id=case["agent"].pk if "agent" in case else None,
                            label_id=case["label"].pk if "label" in case else None)
        assert {key: report[key] for key in direct} == direct, case
    assert report_for()["messages_sent"] > 20  # the traffic is not trivially empty


def test_the_incremental_refresh_equals_a_rebuild(busy):
    def snapshot():
        days = sorted(ReportDay.objects.values_list("day", "channel", "agent_id", "label_id", *COMPARED, "opt_outs",
                                                    "received_by_hour", "failures"), key=str)
        episodes = sorted(ReportEpisode.objects.values_list(
            "conversation_id", "agent_id", "opened_at", "first_response_at", "resolved_at", "resolution_business_seconds"),
            key=str)
        buckets = sorted(ReportDurationCount.objects.values_list(
            "day", "channel", "agent_id", "label_id", "kind", "bucket", "count"), key=str)
        return days, episodes, buckets

    kept = snapshot()
    report_rebuild()
    assert snapshot() == kept
    assert report_refresh() == 0


def test_deleting_conversations_takes_them_out_of_the_report(busy):
    """Staff delete a conversation in the admin, or its contact with all of theirs."""
    busiest = Message.objects.values("conversation_id").annotate(n=Count("id")).order_by("-n", "conversation_id")
    doomed = [row["conversation_id"] for row in busiest[:3]]
    Conversation.objects.get(pk=doomed[0]).delete()
    Conversation.objects.get(pk=doomed[1]).contact.delete()
    report_refresh()

    last = FIRST_DAY + timedelta(days=DAYS + 3)
    for case in [{}, {"channel": "sms"}, {"agent": busy[0]}]:
        direct = direct_counts(date_from=FIRST_DAY, date_to=last, channel=case.get("channel"), agent=case.get("agent"))
        report = report_for(channel=case.get("channel"), agent_id=case["agent"].pk if "agent" in case else None)
        assert {key: report[key] for key in direct} == direct, case
    kept = sorted(ReportDay.objects.values_list("day", "channel", "agent_id", "label_id", *COMPARED), key=str)
    report_rebuild()
    assert sorted(ReportDay.objects.values_list("day", "channel", "agent_id", "label_id", *COMPARED), key=str) == kept


def test_a_retried_failure_no_longer_counts_as_failed(agent):
    team_settings("America/New_York")
    customer_writes("+14155557777", local("2026-10-29 10:00"))
    reply = agent_replies(agent, "+14155557777", local("2026-10-29 10:01"))
    plivo_reports(reply, "failed", local("2026-10-29 10:02"), error_code="30")
    report_refresh()
    assert report_for()["messages_failed"] == 1
    jobs.retry_begin(message=Message.objects.get(pk=reply.pk), requested_by=agent)
    report_refresh()
    assert (report_for()["messages_failed"], report_for()["messages_sent"]) == (0, 1)


def test_opt_outs_per_day(agent):
    team_settings("America/New_York")
    customer_writes("+14155557778", local("2026-10-30 23:50"), channel="sms", text="STOP")
    report_refresh()
    report = report_for()
    assert report["opt_outs"] == 1
    assert [entry["date"] for entry in report["by_day"] if entry["opt_outs"]] == ["2026-10-30"]
    assert report_for(agent_id=agent.pk)["opt_outs"] == 1  # no agent applies to an opt-out


def summary_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        report_for()
        report_for(channel="sms", agent_id=None, business_hours=True)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_data(agent, other_agent):
    team_settings("America/New_York")
    labels = [Label.objects.create(name="billing").name]
    traffic([agent, other_agent], labels, customers=4, seed=1)
    report_rebuild()
    small = summary_queries()
    traffic([agent, other_agent], labels, customers=30, seed=2, numbers="+1415557")
    report_rebuild()
    assert ReportEpisode.objects.count() > 30
    # Six per report at most (rows, labels' sums, durations' bucket counts, the durations in the
    # buckets that hold the medians and p90s, agents' and labels' names); an empty list of names
    # to look up costs none.
    assert small <= summary_queries() <= 2 * 6


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_the_rollups_beside_its_sends(agent):
    from conversations.reports.rollups import _refreshing, report_refresh_in_background
    from conversations.tests.support import wait_for

    team_settings("America/New_York")
    customer_writes("+14155557779", local("2026-10-29 10:00"))
    assert report_refresh_in_background()
    wait_for(lambda: not _refreshing.locked() and report_for()["messages_received"] == 1)
    assert not ReportPending.objects.exists()


@pytest.mark.postgres
def test_a_rebuild_leaves_the_planner_statistics_of_every_rollup(busy):
    report_rebuild()
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
                       [[model._meta.db_table for model in (ReportDay, ReportDuration, ReportDurationCount, ReportEpisode)]])
        tuples = dict(cursor.fetchall())
    assert len(tuples) == 4 and all(count > 0 for count in tuples.values()), tuples  # -1: never analyzed
