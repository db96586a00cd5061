"""Helpers for the campaign tests: a campaign manager, campaigns built through the services, and
running a campaign to its end with an in-process worker."""

import time

import pytest
from django.contrib.auth.models import Group

from conversations.campaign_models import Campaign
from conversations.campaigns import lifecycle, recipients
from conversations.campaigns.dispatch import campaigns_dispatch
from conversations.permissions import CAMPAIGN_MANAGERS_GROUP
from conversations.tests.factories import MessageTemplateFactory, UserFactory
from conversations.tests.outbound_support import drain


@pytest.fixture
def manager(agents_group):
    user = UserFactory(username="carol", first_name="Carol")
    user.groups.add(agents_group, Group.objects.get_or_create(name=CAMPAIGN_MANAGERS_GROUP)[0])
    return user


@pytest.fixture
def manager_client(api_client, manager):
    api_client.force_authenticate(manager)
    return api_client


@pytest.fixture
def any_hour(settings):
    """No quiet hours (tests about something else run at any real time of day)."""
    settings.CAMPAIGN_QUIET_HOURS = ""
    return settings


def approved_template(**kwargs):
    kwargs.setdefault("name", "spring_sale")
    kwargs.setdefault("body", "Hi {{1}}, {{2}} off this week.")
    kwargs.setdefault("category", "MARKETING")
    return MessageTemplateFactory(**kwargs)


def whatsapp_campaign(by, *, phones=(), template=None, **kwargs) -> Campaign:
    template = template or approved_template()
    campaign = lifecycle.campaign_create(name="Spring sale", channel="whatsapp", created_by=by,
                                         template={"name": template.name, "language": template.language}, **kwargs)
    if phones:
        recipients.recipients_add(campaign=campaign, rows=[(phone, ["Ann", "20%"]) for phone in phones])
    return campaign


def sms_campaign(by, *, phones=(), **kwargs) -> Campaign:
    campaign = lifecycle.campaign_create(name="SMS news", channel="sms", created_by=by,
                                         text="Hi {{1}}, news: {{2}}. Reply STOP to opt out.", **kwargs)
    if phones:
        recipients.recipients_add(campaign=campaign, rows=[(phone, ["Ann", "we moved"]) for phone in phones])
    return campaign


def run_to_end(campaign: Campaign, max_seconds: float = 15.0) -> Campaign:
    """Dispatch and send until the campaign is no longer sending (on this test's connection)."""
    deadline = time.monotonic() + max_seconds
    while True:
        campaigns_dispatch()
        drain()
        campaign.refresh_from_db()
        if campaign.status != Campaign.Status.SENDING:
            return campaign
        assert time.monotonic() < deadline, f"the campaign did not finish in {max_seconds} s"
        time.sleep(0.01)
