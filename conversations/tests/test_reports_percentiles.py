"""The report's medians and 90th percentiles, read bucket by bucket, are exactly percentile_cont
over the raw durations: at bucket edges, across buckets, per agent, with filters, and when empty."""

import random
from datetime import date

import pytest
from django.db import connection

from conversations.models import ReportDuration
from conversations.reports.percentiles import (
    DURATION_BUCKETS,
    bucket_of,
    duration_counts_recount,
    durations_read_all,
    durations_selected,
    percentile_cont,
)
from conversations.reports.summary import ReportFilter, durations
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 5, 4)
KINDS = (ReportDuration.Kind.FIRST_RESPONSE, ReportDuration.Kind.RESOLUTION)
FIRST_RESPONSE = ReportDuration.Kind.FIRST_RESPONSE


@pytest.fixture
def conversation():
    return ConversationFactory()


def rolled_up(conversation, seconds, *, day=DAY, kind=FIRST_RESPONSE, agent_id=7, channel="whatsapp", labels=()):
    ReportDuration.objects.bulk_create(
        [ReportDuration(conversation=conversation, kind=kind, seconds=value, day=day, channel=channel,
                        agent_id=agent_id, labels=list(labels)) for value in seconds])
    duration_counts_recount(day)


def report(**filters) -> ReportFilter:
    return ReportFilter(**{"date_from": DAY, "date_to": DAY, **filters})


def selected(**filters) -> dict:
    return {(kind, agent_id): (median, p90) for kind, agent_id, median, p90 in durations_selected(report(**filters), KINDS)}


def expected(values) -> tuple:
    ordered = sorted(values)
    return percentile_cont(ordered, 0.5), percentile_cont(ordered, 0.9)


def test_values_exactly_on_bucket_boundaries(conversation):
    edges = [float(bound) for bound in DURATION_BUCKETS[:40]]
    values = edges + [edge - 0.25 for edge in edges] + [0.0]
    rolled_up(conversation, values)
    assert selected()[(FIRST_RESPONSE, None)] == expected(values)
    assert selected()[(FIRST_RESPONSE, 7)] == expected(values)


def test_the_wanted_value_is_the_last_of_its_bucket_and_its_neighbour_in_a_far_bucket(conversation):
    values = [10.0, 10.5, 5000.0, 90000.0]  # the median interpolates 10.5 (its bucket's last) and 5000
    assert bucket_of(10.5) == bucket_of(10.0) < bucket_of(5000.0) - 5
    rolled_up(conversation, values)
    median, p90 = selected()[(FIRST_RESPONSE, None)]
    assert (median, p90) == expected(values)
    assert (median, p90) == (2505.25, pytest.approx(64500.0))


def test_the_90th_percentile_interpolates_across_two_buckets(conversation):
    values = [float(n) for n in range(1, 10)] + [3600.0]  # p90 at rank 8.1: between 9 and 3600
    rolled_up(conversation, values)
    assert selected()[(FIRST_RESPONSE, None)][1] == expected(values)[1] == pytest.approx(368.1)


def test_a_single_value_is_its_own_median_and_p90(conversation):
    rolled_up(conversation, [42.125])
    assert selected()[(FIRST_RESPONSE, None)] == (42.125, 42.125)


def test_an_empty_range_has_none(conversation):
    rolled_up(conversation, [30.0, 60.0])
    empty = durations(report(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30)))
    assert empty["overall"]["first_response_seconds"] == {"median": None, "p90": None}
    assert empty["by_agent"] == {}
    assert durations(report(channel="sms"))["overall"]["first_response_seconds"]["median"] is None


def test_many_durations_with_ties_per_agent_channel_label_and_days_equal_the_raw_rows(conversation):
    draw = random.Random(16)
    for offset in range(3):
        day = date(2026, 5, 4 + offset)
        for agent_id in (0, 7, 8):
            for channel in ("whatsapp", "sms"):
                for kind in KINDS:
                    values = [round(draw.lognormvariate(6, 2), draw.choice((0, 1, 3))) for _ in range(draw.randint(0, 40))]
                    rolled_up(conversation, values, day=day, kind=kind, agent_id=agent_id, channel=channel,
                              labels=draw.choice(([], [3], [3, 5])))
    cases = [{}, {"channel": "sms"}, {"agent_id": 8}, {"label_id": 3}, {"label_id": 5, "channel": "whatsapp"},
             {"date_to": date(2026, 5, 6)}, {"date_from": date(2026, 5, 5), "date_to": date(2026, 5, 6), "agent_id": 7}]
    for case in cases:
        reference = {(kind, agent_id): (median, p90) for kind, agent_id, median, p90
                     in durations_read_all(report(**case), KINDS)}
        assert selected(**case) == reference, case
        assert durations(report(**case)) == durations(report(**case), in_database=False), case
    assert set(reference) == {(kind, agent_id) for kind in KINDS for agent_id in (None, 7)}  # not trivially empty


@pytest.mark.postgres
def test_postgresql_percentile_cont_over_the_raw_rows_agrees(conversation):
    draw = random.Random(7)
    values = [draw.choice((1.0, 59.5, 60.0, 61.0, 3600.0, draw.uniform(0, 10**6))) for _ in range(301)]
    rolled_up(conversation, values)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), percentile_cont(0.9) WITHIN GROUP "
            f"(ORDER BY seconds) FROM {ReportDuration._meta.db_table} WHERE kind = %s", [FIRST_RESPONSE])
        in_postgresql = cursor.fetchone()
    assert selected()[(FIRST_RESPONSE, None)] == in_postgresql
