"""The campaign page in Chromium: a draft's schedule and rate are changed in place, a bad rate is
refused with the server's reason, and a scheduled campaign cleared of its time is a draft again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.campaign_models import Campaign
from conversations.campaigns import lifecycle
from conversations.tests.campaign_support import manager, whatsapp_campaign  # noqa: F401 (fixture)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_schedules_a_draft_lowers_its_rate_and_unschedules_it(pages, manager):
    campaign = whatsapp_campaign(manager, phones=["+14155553101", "+14155553102"])
    page = pages.open(manager, path=f"/campaigns/{campaign.pk}/")
    expect(page.locator("#detail-status")).to_have_text("Draft")
    expect(page.locator("#edit-form")).to_be_visible()

    pages.expected_problems.append("status of 400")  # the refused rate, on purpose
    page.fill("#edit-rate", "fast")
    page.click("#edit-save")
    expect(page.locator("#detail-error")).to_contain_text("number")
    campaign.refresh_from_db()
    assert campaign.rate_per_second is None

    tomorrow = timezone.localtime() + timedelta(days=1)
    page.fill("#edit-when", tomorrow.strftime("%Y-%m-%dT09:30"))
    page.fill("#edit-rate", "2")
    page.click("#edit-save")
    expect(page.locator("#edit-saved")).to_have_text("Saved.")
    expect(page.locator("#detail-meta")).to_contain_text("2/s · scheduled for")
    expect(page.locator("#action-start")).to_have_text("Schedule")
    campaign.refresh_from_db()
    assert campaign.rate_per_second == 2 and campaign.scheduled_at > timezone.now()

    page.click("#action-start")
    expect(page.locator("#detail-status")).to_have_text("Scheduled")
    page.fill("#edit-when", "")
    page.click("#edit-save")
    expect(page.locator("#detail-status")).to_have_text("Draft")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (Campaign.Status.DRAFT, None)


def test_the_form_is_gone_once_the_campaign_sends(pages, manager):
    campaign = whatsapp_campaign(manager, phones=["+14155553103"])
    lifecycle.campaign_start(campaign=campaign, by=manager)
    lifecycle.campaign_pause(campaign=campaign, by=manager)
    page = pages.open(manager, path=f"/campaigns/{campaign.pk}/")
    expect(page.locator("#detail-status")).to_have_text("Paused")
    expect(page.locator("#edit-form")).to_be_hidden()
