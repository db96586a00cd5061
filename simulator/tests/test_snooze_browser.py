"""Snooze end to end with the customer's phone beside the inbox: a snoozed conversation leaves
Open, and comes back the moment the customer writes again."""

import pytest

from conversations.models import Conversation
from simulator.tests.test_simulator_browser import customer_says, open_thread, screens, server  # noqa: F401 (fixtures)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_snoozed_conversation_leaves_open_and_comes_back_when_the_customer_writes(screens, agent):  # noqa: F811
    inbox = screens.inbox(agent)
    phone = screens.phone("+14155550141", name="Fox Mulder")
    customer_says(phone, "Can you call me back next week?")
    open_thread(inbox, "Can you call me back next week?")
    row = inbox.locator("#conversation-list li", has_text="Fox Mulder")

    inbox.click("#snooze")
    inbox.locator('.thread-actions .snooze-menu [data-preset="week"]').click()
    expect(row).to_have_count(0)  # left Open
    conversation = Conversation.objects.get(contact__phone="+14155550141")
    assert conversation.status == "snoozed" and conversation.snoozed_until is not None
    inbox.locator('.tab[data-status="snoozed"]').click()
    expect(row).to_be_visible()
    inbox.locator('.tab[data-status="open"]').click()
    expect(row).to_have_count(0)

    customer_says(phone, "Actually, today works too")
    expect(row).to_be_visible(timeout=3000)  # back in Open, live
    expect(row).to_contain_text("Actually, today works too")
    expect(inbox.locator("#message-list .activity-text").last).to_have_text("Woke from snooze: the customer wrote")
    expect(inbox.locator("#thread-snoozed")).to_be_hidden()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
