"""The inbox says what a send on its way waits for, instead of a bare clock."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_waiting_retry_and_a_missing_report_are_spelled_out(pages, agent):
    conversation = ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="whatsapp",
                                       last_inbound_at=timezone.now() - timedelta(hours=1))
    later = timezone.now() + timedelta(seconds=30)
    busy = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, status="queued", text="Busy",
                          error_code="plivo_unavailable", next_attempt_at=later,
                          error_message="Plivo was unavailable (HTTP 503); retrying in 30 s (attempt 2 of 5).")
    limited = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, status="queued",
                             text="Limited", error_code="rate_limited", next_attempt_at=later)
    accepted = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, status="sending", text="Sent")
    delivered = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, status="delivered", text="Done")
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")

    def note(message):
        return page.locator(f'#message-list .msg[data-id="{message.pk}"] .msg-note')

    expect(note(busy)).to_have_text(re.compile(r"^Plivo busy, retrying in (2[5-9]|30) s$"))
    expect(note(limited)).to_contain_text("Plivo rate limit, retrying in")
    expect(note(accepted)).to_have_text("no delivery report yet")
    expect(note(delivered)).to_have_count(0)
    # Shown as waiting, not as an error the agent must act on.
    expect(page.locator(f'#message-list .msg[data-id="{busy.pk}"] .msg-error')).to_have_count(0)
