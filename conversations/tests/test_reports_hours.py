"""Business hours and report days in the team's zone: exact seconds across days, the zone's
midnight and both DST changes; staff's schedule and zone are validated."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from conversations.reports.hours import business_seconds, day_bounds, schedule_check
from conversations.reports.models import ReportSettings

NEW_YORK, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
WEEKDAYS_9_TO_5 = schedule_check({day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")})
ALWAYS = schedule_check({day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


def at(text, zone=NEW_YORK):
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_a_weekend_does_not_count():
    # Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert business_seconds(at("2026-03-06 16:00"), at("2026-03-09 10:00"), zone=NEW_YORK, schedule=WEEKDAYS_9_TO_5) == 7200


def test_outside_hours_is_zero_and_inside_is_all():
    assert business_seconds(at("2026-03-10 18:00"), at("2026-03-11 08:59"), zone=NEW_YORK, schedule=WEEKDAYS_9_TO_5) == 0
    assert business_seconds(at("2026-03-10 10:00"), at("2026-03-10 10:07:30"), zone=NEW_YORK, schedule=WEEKDAYS_9_TO_5) == 450


def test_split_days_and_times_given_in_another_zone():
    lunch_break = schedule_check({"tue": ["09:00-12:00", "13:00-17:00"]})
    start = at("2026-03-10 11:00").astimezone(ZoneInfo("UTC"))  # 15:00 UTC
    assert business_seconds(start, at("2026-03-10 14:00"), zone=NEW_YORK, schedule=lunch_break) == 7200


def test_dst_days_count_the_real_hours():
    # 8 March 2026: 01:00 EST to 04:00 EDT is two real hours; 1 November: 00:00 to 24:00 is 25.
    assert business_seconds(at("2026-03-08 01:00"), at("2026-03-08 04:00"), zone=NEW_YORK, schedule=ALWAYS) == 7200
    start, end = day_bounds(date(2026, 11, 1), NEW_YORK)
    assert (end - start) == timedelta(hours=25)
    assert business_seconds(start, end, zone=NEW_YORK, schedule=ALWAYS) == 25 * 3600
    assert business_seconds(at("2026-03-06 09:00"), at("2026-03-09 17:00"), zone=NEW_YORK, schedule=WEEKDAYS_9_TO_5) == 2 * 8 * 3600


def test_a_half_hour_zone_day():
    start, end = day_bounds(date(2026, 3, 10), KOLKATA)
    assert start == datetime(2026, 3, 9, 18, 30, tzinfo=ZoneInfo("UTC")) and end - start == timedelta(days=1)


@pytest.mark.parametrize("hours, message", [
    ({"monday": ["09:00-17:00"]}, "not a weekday"),
    ({"mon": "09:00-17:00"}, "list of intervals"),
    ({"mon": ["9-5"]}, "not an interval"),
    ({"mon": ["17:00-09:00"]}, "ends before it starts"),
    ({"mon": ["09:00-13:00", "12:00-17:00"]}, "overlap"),
    ([], "mapping"),
])
def test_staff_get_a_reason_for_a_bad_schedule(db, hours, message):
    with pytest.raises(ValidationError) as refused:
        ReportSettings(time_zone="UTC", business_hours=hours).full_clean()
    assert message in str(refused.value.message_dict["business_hours"])


def test_an_unknown_zone_is_refused(db):
    with pytest.raises(ValidationError) as refused:
        ReportSettings(time_zone="Mars/Olympus", business_hours={}).full_clean()
    assert "time zone" in str(refused.value.message_dict["time_zone"])


def test_there_is_one_settings_row(db):
    ReportSettings(time_zone="UTC").save()
    ReportSettings(time_zone="Europe/Paris").save()
    assert list(ReportSettings.objects.values_list("pk", "time_zone")) == [(1, "Europe/Paris")]


def test_staff_change_the_zone_in_the_admin_and_the_report_is_recounted_in_it(client, staff, agent):
    from conversations.models import ReportDay
    from conversations.reports.rollups import report_refresh
    from conversations.tests.reports_support import customer_writes, local

    customer_writes("+14155550001", local("2026-03-07 23:30"))  # New York; the 8th in UTC
    report_refresh()
    assert list(ReportDay.objects.filter(label_id=0).values_list("day", flat=True)) == [date(2026, 3, 8)]
    client.force_login(staff)
    response = client.post("/admin/conversations/reportsettings/add/", {
        "time_zone": "America/New_York", "business_hours": '{"mon": ["09:00-17:00"]}'})
    assert response.status_code == 302, response.content[:2000]
    assert list(ReportDay.objects.filter(label_id=0).values_list("day", flat=True)) == [date(2026, 3, 7)]
    assert client.get("/admin/conversations/reportsettings/add/").status_code == 403  # one row only


def test_a_bad_schedule_in_the_admin_is_shown_not_saved(client, staff):
    client.force_login(staff)
    response = client.post("/admin/conversations/reportsettings/add/", {
        "time_zone": "UTC", "business_hours": '{"mon": ["17:00-09:00"]}'})
    assert response.status_code == 200 and b"ends before it starts" in response.content
    assert not ReportSettings.objects.exists()
