"""PATCH /api/v1/campaigns/{id}/: a draft's or scheduled campaign's name, schedule and rate; the
schedule moves draft <-> scheduled as `start` does; refusals are 400 (bad value, with its field)
or 409 (a state that cannot change); every change is audited."""

from datetime import datetime, timezone as dt_timezone

import pytest
import time_machine

from conversations.campaign_models import Campaign
from conversations.campaigns import lifecycle
from conversations.campaigns.dispatch import campaigns_dispatch
from conversations.models import AuditEntry
from conversations.tests.campaign_support import (  # noqa: F401 (fixtures)
    any_hour,
    approved_template,
    manager,
    manager_client,
    whatsapp_campaign,
)

pytestmark = pytest.mark.django_db

PHONES = ["+14155553001", "+14155553002"]
NOW = datetime(2030, 3, 4, 10, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def patch(client, campaign, body):
    return client.patch(f"/api/v1/campaigns/{campaign.pk}/", body, format="json")


def changes(campaign):
    return list(AuditEntry.objects.filter(action="campaign.changed", object_id=str(campaign.pk)).order_by("id")
                .values_list("details", flat=True))


def test_a_draft_is_renamed_and_its_rate_lowered_and_the_change_is_audited(manager_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    response = patch(manager_client, campaign, {"name": "  Spring sale (final)  ", "rate_per_second": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["rate_per_second"], body["status"]) == ("Spring sale (final)", 2, "draft")
    assert body["rate_per_second_effective"] == 2
    entry = AuditEntry.objects.get(action="campaign.changed")
    assert entry.actor == manager
    assert entry.details == {"name": {"from": "Spring sale", "to": "Spring sale (final)"},
                             "rate_per_second": {"from": None, "to": 2}}
    assert patch(manager_client, campaign, {"rate_per_second": None}).json()["rate_per_second"] is None


def test_a_draft_given_a_time_is_scheduled_when_started_and_unscheduling_brings_it_back_to_draft(manager_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    assert patch(manager_client, campaign, {"scheduled_at": "2030-03-05T09:00:00Z"}).json()["status"] == "draft"
    assert manager_client.post(f"/api/v1/campaigns/{campaign.pk}/start/").json()["status"] == "scheduled"

    body = patch(manager_client, campaign, {"scheduled_at": None}).json()
    assert (body["status"], body["scheduled_at"]) == ("draft", None)
    assert changes(campaign)[-1] == {"scheduled_at": {"from": "2030-03-05T09:00:00+00:00", "to": None},
                                     "status": {"from": "scheduled", "to": "draft"}}
    clock.move_to(datetime(2030, 3, 5, 9, 1, tzinfo=dt_timezone.utc))
    campaigns_dispatch()
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.recipients.filter(status="pending").count() == 2
    assert manager_client.post(f"/api/v1/campaigns/{campaign.pk}/start/").json()["status"] == "sending"


def test_moving_a_scheduled_campaign_later_keeps_it_from_starting_at_the_old_time(manager_client, manager, clock, any_hour):
    campaign = whatsapp_campaign(manager, phones=PHONES, scheduled_at=datetime(2030, 3, 4, 12, 0, tzinfo=dt_timezone.utc))
    lifecycle.campaign_start(campaign=campaign, by=manager)
    body = patch(manager_client, campaign, {"scheduled_at": "2030-03-04T15:00:00Z"}).json()
    assert (body["status"], body["scheduled_at"]) == ("scheduled", "2030-03-04T15:00:00Z")

    clock.move_to(datetime(2030, 3, 4, 12, 5, tzinfo=dt_timezone.utc))
    campaigns_dispatch()
    campaign.refresh_from_db()
    assert campaign.status == "scheduled" and campaign.recipients.filter(status="pending").count() == 2
    clock.move_to(datetime(2030, 3, 4, 15, 0, tzinfo=dt_timezone.utc))
    campaigns_dispatch()
    campaign.refresh_from_db()
    assert campaign.status == "sending"


def test_a_time_in_the_past_is_refused_with_its_field(manager_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    response = patch(manager_client, campaign, {"name": "Renamed", "scheduled_at": "2030-03-04T09:59:00Z"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "scheduled_at"
    assert "past" in response.json()["error"]["message"]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.scheduled_at) == ("Spring sale", None)  # all or nothing
    assert changes(campaign) == []


@pytest.mark.parametrize("body, field", [
    ({"rate_per_second": 0}, "rate_per_second"),
    ({"rate_per_second": 10_000}, "rate_per_second"),
    ({"rate_per_second": "fast"}, "rate_per_second"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"scheduled_at": "tomorrow"}, "scheduled_at"),
    ({"channel": "sms"}, "channel"),
    ({"text": "Hello"}, "text"),
    ({}, None),
])
def test_bad_values_are_400s_naming_the_field_and_change_nothing(manager_client, manager, body, field, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    response = patch(manager_client, campaign, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    campaign.refresh_from_db()
    assert (campaign.name, campaign.rate_per_second, campaign.channel) == ("Spring sale", None, "whatsapp")
    assert changes(campaign) == []


@pytest.mark.parametrize("state", ["sending", "paused", "stopped", "completed", "failed"])
def test_a_campaign_past_scheduling_cannot_be_changed(manager_client, manager, state, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    Campaign.objects.filter(pk=campaign.pk).update(status=state)
    response = patch(manager_client, campaign, {"name": "Renamed", "rate_per_second": 1})
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith(f"This campaign is {state}; only a draft or a scheduled campaign")
    campaign.refresh_from_db()
    assert (campaign.name, campaign.rate_per_second) == ("Spring sale", None)


def test_a_scheduled_campaign_whose_time_has_come_is_left_to_the_dispatcher(manager_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES, scheduled_at=datetime(2030, 3, 4, 10, 30, tzinfo=dt_timezone.utc))
    lifecycle.campaign_start(campaign=campaign, by=manager)
    clock.move_to(datetime(2030, 3, 4, 10, 30, tzinfo=dt_timezone.utc))
    response = patch(manager_client, campaign, {"scheduled_at": "2030-03-05T10:30:00Z"})
    assert response.status_code == 409 and "starting" in response.json()["error"]["message"]


def test_an_unchanged_value_writes_no_audit_entry(manager_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    assert patch(manager_client, campaign, {"name": "Spring sale"}).status_code == 200
    assert changes(campaign) == []


def test_only_campaign_managers_may_change_a_campaign(agent_client, api_client, manager, clock):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    assert patch(agent_client, campaign, {"name": "Mine now"}).status_code == 403
    api_client.force_authenticate(None)
    assert patch(api_client, campaign, {"name": "Mine now"}).status_code in (401, 403)
    campaign.refresh_from_db()
    assert campaign.name == "Spring sale"


def test_the_schema_documents_the_change(manager_client):
    schema = manager_client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/campaigns/{id}/"]["patch"]
    assert {"200", "400", "409"} <= set(operation["responses"])
    assert set(schema["components"]["schemas"]["PatchedCampaignEditInputRequest"]["properties"]) == {
        "name", "scheduled_at", "rate_per_second"}
