"""GET /api/v1/reports/summary/: agents and staff read it, anyone else is refused, bad input is a
400 naming the field, and the OpenAPI schema documents it."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from conversations.models import Label
from conversations.reports import summary as summary_module
from conversations.reports.rollups import report_refresh
from conversations.reports.summary import ReportFilter
from conversations.services.labels import conversation_labels_set
from conversations.tests.reports_support import (
    agent_replies,
    conversation_of,
    customer_writes,
    local,
    plivo_reports,
    team_settings,
)

BERLIN = ZoneInfo("Europe/Berlin")
URL = "/api/v1/reports/summary/"
CONTRACT = {"conversations_opened", "conversations_resolved", "messages_received", "messages_sent",
            "messages_delivered", "messages_read", "messages_failed", "delivery_rate", "read_rate",
            "first_response_seconds", "resolution_seconds", "by_day", "by_agent"}


@pytest.fixture
def traffic(agent):
    team_settings("Europe/Berlin")
    customer_writes("+14155550001", local("2026-03-29 01:30", zone=BERLIN))
    reply = agent_replies(agent, "+14155550001", local("2026-03-29 03:30", zone=BERLIN))
    plivo_reports(reply, "delivered", local("2026-03-29 03:31", zone=BERLIN))
    report_refresh()


def test_an_agent_reads_the_summary(agent_client, traffic, agent):
    response = agent_client.get(URL, {"from": "2026-03-29", "to": "2026-03-29"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert CONTRACT <= set(body)
    assert (body["conversations_opened"], body["messages_received"], body["messages_sent"], body["delivery_rate"]) == (1, 1, 1, 1.0)
    # 01:30 CET to 03:30 CEST is one hour: the clocks went forward at 02:00.
    assert body["first_response_seconds"] == {"median": 3600.0, "p90": 3600.0}
    assert body["by_day"][0]["date"] == "2026-03-29"
    assert body["by_agent"][0]["agent_id"] == agent.pk


def test_staff_read_it_too(api_client, staff, traffic):
    api_client.force_authenticate(staff)
    assert api_client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"}).status_code == 200


def test_filters_by_channel_agent_and_label_name(agent_client, traffic, agent):
    Label.objects.create(name="Billing")
    response = agent_client.get(URL, {"from": "2026-03-29", "to": "2026-03-29", "channel": "whatsapp",
                                      "agent": agent.pk, "label": "billing", "business_hours": "true"})
    assert response.status_code == 200
    assert response.json()["messages_sent"] == 0  # nothing carries the label


def test_a_non_agent_is_refused(api_client, outsider, traffic):
    api_client.force_authenticate(outsider)
    response = api_client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"})
    assert response.status_code == 403
    assert "messages_sent" not in response.content.decode()


def test_anonymous_is_refused(api_client, traffic):
    assert api_client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"}).status_code in (401, 403)


@pytest.mark.parametrize("params, field", [
    ({}, "from"),
    ({"from": "2026-03-01"}, "to"),
    ({"from": "01/03/2026", "to": "2026-03-02"}, "from"),
    ({"from": "2026-02-30", "to": "2026-03-02"}, "from"),
    ({"from": "20260301", "to": "2026-03-02"}, "from"),
    ({"from": "2026-03-05", "to": "2026-03-02"}, "to"),
    ({"from": "2020-01-01", "to": "2026-03-02"}, "to"),
    ({"from": "2026-03-01", "to": "2026-03-02", "channel": "fax"}, "channel"),
    ({"from": "2026-03-01", "to": "2026-03-02", "agent": "99999"}, "agent"),
    ({"from": "2026-03-01", "to": "2026-03-02", "agent": "alice"}, "agent"),
    ({"from": "2026-03-01", "to": "2026-03-02", "label": "no-such-label"}, "label"),
])
def test_bad_input_is_a_400_naming_the_field(agent_client, params, field):
    response = agent_client.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field


def test_the_schema_documents_the_summary(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"][URL]["get"]
    assert {"from", "to", "channel", "agent", "label"} <= {parameter["name"] for parameter in operation["parameters"]}
    components = schema["components"]["schemas"]
    properties = components["ReportSummary"]["properties"]
    assert CONTRACT <= set(properties)
    percentiles = components[properties["first_response_seconds"]["$ref"].rsplit("/", 1)[1]]
    assert set(percentiles["properties"]) == {"median", "p90"}


@pytest.mark.postgres
def test_postgresql_percentiles_equal_the_python_fallback(traffic, agent, other_agent):
    for minutes in (3, 17, 45, 240):
        phone = f"+1415555{minutes:04d}"
        customer_writes(phone, local("2026-03-30 09:00", zone=BERLIN))
        replied = local(f"2026-03-30 {9 + minutes // 60:02d}:{minutes % 60:02d}", zone=BERLIN)
        agent_replies(other_agent if minutes % 2 else agent, phone, replied)
    vip = Label.objects.create(name="vip")
    conversation_labels_set(conversation=conversation_of("+14155550017"), by=agent, names=["vip"])
    report_refresh()
    for business_hours, label_id in ((False, None), (True, None), (False, vip.pk)):
        report = ReportFilter(date_from=date(2026, 3, 28), date_to=date(2026, 3, 31), business_hours=business_hours,
                              label_id=label_id)
        in_sql = summary_module.durations(report, in_database=True)
        assert in_sql == summary_module.durations(report, in_database=False)
        assert in_sql["overall"]["first_response_seconds"]["median"] is not None
