"""The Campaigns page in Chromium: create a campaign from a template with its preview, upload a
CSV with column mapping and a per-recipient preview, read the skipped-row report, start it and
watch it complete live (the server's embedded outbound worker sends to the fake Plivo API)."""

import re

import pytest

from conversations.tests.browser import module_server
from conversations.tests.campaign_support import approved_template, manager  # noqa: F401 (fixture)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror="window.__xss=1">Spring'
CSV = b"Name,Mobile,Discount\nAnn,+14155552001,20%\nBo,not-a-number,10%\nCy,+14155552003,5%\n"


@pytest.fixture(scope="module")
def server(browser, django_db_setup, django_db_blocker, tmp_path_factory, _fake_plivo_server):
    """daphne with its embedded outbound worker (which dispatches campaigns) sending to the fake API."""
    live = module_server(django_db_blocker, tmp_path_factory, extra_env={
        "OUTBOUND_WORKER_EMBEDDED": "true",
        "PLIVO_API_BASE_URL": _fake_plivo_server.base_url,
        "CAMPAIGN_QUIET_HOURS": "",
    })
    yield live
    live.stop()


def test_create_upload_start_and_watch_a_campaign_complete(pages, manager, fake_plivo):
    approved_template()
    page = pages.open(manager, path="/campaigns/")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#list-empty")).to_be_visible()

    page.click("#new-campaign")
    page.fill("#campaign-name", HOSTILE)
    expect(page.locator("#template-preview")).to_have_text("Hi {{1}}, {{2}} off this week.")
    expect(page.locator("#template-preview .slot")).to_have_count(2)
    page.click("#create-submit")
    expect(page.locator("#detail-title")).to_have_text(HOSTILE)
    expect(page.locator("#detail-status")).to_have_text("Draft")

    page.set_input_files("#csv-file", files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": CSV}])
    expect(page.locator("#map-phone option:checked")).to_have_text("Mobile")
    expect(page.locator("#map-parameter-1 option:checked")).to_have_text("Name")
    expect(page.locator("#map-parameter-2 option:checked")).to_have_text("Discount")
    expect(page.locator("#row-preview li").first).to_contain_text("Hi Ann, 20% off this week.")
    page.click("#add-recipients")
    expect(page.locator("#skipped-title")).to_have_text("1 row will not be sent")
    expect(page.locator("#skipped-rows tr")).to_have_count(1)
    expect(page.locator("#skipped-rows tr td").nth(2)).to_have_text("invalid_number")
    expect(page.locator('#tiles [data-count="pending"] .tile-value')).to_have_text("2")

    page.click("#action-start")
    expect(page.locator("#detail-status")).to_have_text(re.compile("Sending|Completed"))
    # Live, without a reload: the worker's campaign.updated events move the figures.
    expect(page.locator("#detail-status")).to_have_text("Completed", timeout=20000)
    expect(page.locator('#tiles [data-count="sent"] .tile-value')).to_have_text("2")
    expect(page.locator("#detail-progress-text")).to_contain_text("100% done")
    assert sorted(request.body["dst"] for request in fake_plivo.sends()) == ["+14155552001", "+14155552003"]

    page.select_option("#recipient-filter", "skipped")
    expect(page.locator("#recipient-rows tr")).to_have_count(1)
    expect(page.locator("#recipient-rows tr td").first).to_have_text("not-a-number")
    expect(page.locator("#action-export")).to_have_attribute("href", re.compile(r"/api/v1/campaigns/\d+/export/$"))

    page.click("#back-to-list")
    expect(page.locator("#campaign-rows tr")).to_have_count(1)
    expect(page.locator("#campaign-rows tr td a")).to_have_text(HOSTILE)
