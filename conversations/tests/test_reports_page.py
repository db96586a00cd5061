"""The Reports page: next to the inbox, for agents and staff only, and in Chromium its charts,
tables and CSV exports show the summary's numbers with hostile names as plain text."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Label
from conversations.reports.rollups import report_refresh
from conversations.services.labels import conversation_labels_set
from conversations.tests.reports_support import (
    agent_replies,
    conversation_of,
    customer_writes,
    plivo_reports,
    team_settings,
)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

HOSTILE = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'


def test_the_inbox_links_to_the_reports(client, agent):
    client.force_login(agent)
    assert b'href="/inbox/reports/"' in client.get("/inbox/").content


def test_an_agent_opens_the_reports_page(client, agent):
    client.force_login(agent)
    response = client.get("/inbox/reports/")
    assert response.status_code == 200
    assert b'id="reports-bootstrap"' in response.content and b'href="/inbox/"' in response.content
    assert b"<script>" not in response.content  # only the module file: the CSP allows no inline script


def test_a_non_agent_is_refused_the_page(client, outsider):
    client.force_login(outsider)
    assert client.get("/inbox/reports/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/inbox/reports/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_tables_and_csv_in_chromium(pages, agent):
    team_settings("UTC")
    now = timezone.now().replace(microsecond=0)
    customer_writes("+14155550001", now - timedelta(hours=2))
    reply = agent_replies(agent, "+14155550001", now - timedelta(hours=2) + timedelta(minutes=4))
    plivo_reports(reply, "failed", now - timedelta(hours=1), error_code="30")
    label = Label.objects.create(name=HOSTILE[:40])
    conversation_labels_set(conversation=conversation_of("+14155550001"), by=agent, names=[label.name])
    report_refresh()

    page = pages.open(agent, path="/inbox/reports/")
    tiles = page.locator("#report-tiles .tile")
    expect(tiles).to_have_count(8)
    expect(tiles.nth(3).locator(".tile-value")).to_have_text("1")  # messages sent
    expect(tiles.nth(4).locator(".tile-detail")).to_have_text("0 delivered, 1 failed")
    expect(tiles.nth(6).locator(".tile-value")).to_have_text("4 min")
    expect(page.locator("#table-failures td").first).to_have_text("flagged as spam")
    expect(page.locator("#table-labels td").first).to_have_text(HOSTILE[:40])
    expect(page.locator("#chart-volume svg rect")).not_to_have_count(0)
    expect(page.locator("#chart-heat rect.heat-5")).to_have_count(1)
    # The axis labels are plain text: the inbox's delivery ticks (squeezed letters) never leak in.
    day_label = page.locator("#chart-volume svg text").last
    assert day_label.evaluate("(t) => getComputedStyle(t).letterSpacing") == "normal"

    with page.expect_download() as download:
        page.locator('#table-agents [data-csv]').click()
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("Agent,Conversations handled,Replies sent")
    assert lines[1].startswith("Alice,1,1,240")

    page.select_option("#filter-channel", "sms")
    page.click("#report-filters button[type=submit]")
    expect(tiles.nth(3).locator(".tile-value")).to_have_text("0")
    assert "channel=sms" in page.url
