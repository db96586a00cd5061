"""Consent from the inbox's contact panel, in real Chromium: an agent opts a customer out and in
again (in needs a reason), a colleague sees it live, and only staff get the export links."""

import json

import pytest

from conversations.models import ConsentRecord, Contact
from conversations.tests.test_inbox_browser import whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror="window.pwned=1">'


def open_panel(page):
    expect(page.locator("#connection")).to_have_text("Live")
    page.click("#toggle-contact")
    expect(page.locator("#contact-panel")).to_be_visible()


def test_agent_opts_out_then_in_with_a_reason_and_a_colleague_sees_it(pages, agent, other_agent):
    conversation = whatsapp_conversation()
    contact_id = conversation.contact_id
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    bob = pages.open(other_agent, path=f"/inbox/{conversation.pk}/")
    open_panel(alice)
    open_panel(bob)
    expect(alice.locator("#consent-empty")).to_be_visible()

    alice.click("#consent-whatsapp")
    expect(alice.locator("#consent-reason")).to_be_focused()
    alice.fill("#consent-reason", HOSTILE)
    alice.click("#consent-confirm")

    expect(alice.locator("#contact-wa-state")).to_contain_text("Opted out")
    expect(alice.locator("#consent-whatsapp")).to_have_text("Opt in to WhatsApp…")
    expect(alice.locator("#consent-history li")).to_have_count(1)
    expect(alice.locator("#consent-history li").first).to_contain_text("via agent (alice)")
    expect(alice.locator("#consent-history .consent-reason")).to_have_text(HOSTILE)  # text, not markup
    expect(bob.locator("#contact-wa-state")).to_contain_text("Opted out", timeout=3000)
    expect(bob.locator("#consent-history li")).to_have_count(1, timeout=3000)

    # Opting in without a reason is stopped before anything is sent.
    alice.click("#consent-whatsapp")
    alice.click("#consent-confirm")
    expect(alice.locator("#consent-form")).to_be_visible()
    assert Contact.objects.get(pk=contact_id).whatsapp_opted_out_at is not None

    alice.fill("#consent-reason", "Called and asked to hear from us again")
    alice.click("#consent-confirm")
    expect(alice.locator("#contact-wa-state")).to_have_text("Subscribed")
    expect(alice.locator("#consent-history li").first).to_contain_text("Opted in")
    expect(bob.locator("#contact-wa-state")).to_have_text("Subscribed", timeout=3000)
    assert list(ConsentRecord.objects.order_by("id").values_list("opted_in", "method", "by__username")) == [
        (False, "agent", "alice"), (True, "agent", "alice")
    ]
    assert alice.evaluate("window.pwned") is None
    pages.check()


def test_only_staff_see_the_export_links_and_they_download_the_document(pages, agent, staff):
    conversation = whatsapp_conversation()
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    open_panel(alice)
    expect(alice.locator("#contact-data")).to_be_hidden()

    boss = pages.open(staff, path=f"/inbox/{conversation.pk}/")
    open_panel(boss)
    expect(boss.locator("#contact-data")).to_be_visible()
    with boss.expect_download() as download_info:
        boss.click("#contact-export")
    document = json.loads(open(download_info.value.path()).read())
    assert document["contact"]["phone"] == "+14155550123"
    assert [m["text"] for c in document["conversations"] for m in c["messages"]] == ["Hi, where is my order?"]
    pages.check()
