"""Starting a conversation from the inbox in real Chromium: a number in any format and a channel;
WhatsApp starts with an approved template (with its live preview), SMS with free text; a number
Parley already talks to opens its conversation; an opted-out number is refused with the reason."""

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageTemplateFactory
from conversations.tests.test_inbox_browser import whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def start(page, phone, channel):
    page.click("#new-conversation")
    expect(page.locator("#new-conversation-dialog")).to_be_visible()
    page.fill("#new-phone", phone)
    page.check(f"input[name=new-channel][value={channel}]")
    page.click("#new-continue")


def inbox(pages, agent):
    page = pages.open(agent)
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def test_a_whatsapp_conversation_starts_with_a_template_and_its_preview(pages, server, agent):
    MessageTemplateFactory(name="order_update", body="Hi {{1}}, your order {{2}} has shipped.")
    page = inbox(pages, agent)
    start(page, "(415) 555-0191", "whatsapp")
    expect(page.locator("#template-dialog")).to_be_visible()
    expect(page.locator("#template-title")).to_have_text("Start a WhatsApp conversation")
    expect(page.locator("#template-reason")).to_contain_text("+14155550191 has not written to you on WhatsApp")
    page.select_option("#template-select", label="order_update (en_US)")
    page.fill("#tpl-body-1", "Ada")
    page.fill("#tpl-body-2", "#77")
    expect(page.locator("#template-preview")).to_contain_text("Hi Ada, your order #77 has shipped.")
    page.click("#template-send")
    expect(page.locator("#template-dialog")).to_be_hidden()
    expect(page.locator("#thread-phone")).to_have_text("+14155550191")
    expect(page.locator("#message-list .msg.out .msg-label")).to_have_text("Template · order_update")
    conversation = Conversation.objects.get(contact__phone="+14155550191")
    assert conversation.channel == "whatsapp"
    assert Message.objects.get(conversation=conversation, direction="outbound").text == "Hi Ada, your order #77 has shipped."


def test_an_sms_conversation_starts_with_free_text(pages, server, agent):
    page = inbox(pages, agent)
    start(page, "415 555 0192", "sms")
    expect(page.locator("#new-sms")).to_be_visible()
    page.fill("#new-text", "Hello from Parley support")
    expect(page.locator("#new-counter")).to_contain_text("1 SMS segment")
    page.click("#new-continue")
    expect(page.locator("#new-conversation-dialog")).to_be_hidden()
    expect(page.locator("#message-list .msg.out")).to_contain_text("Hello from Parley support")
    message = Message.objects.get(direction="outbound")
    assert (message.conversation.channel, message.conversation.contact.phone) == ("sms", "+14155550192")


def test_a_number_parley_already_talks_to_opens_its_conversation(pages, server, agent):
    existing = whatsapp_conversation(name="Dana Whitfield", phone="+14155550193")
    page = inbox(pages, agent)
    start(page, "+1 (415) 555-0193", "whatsapp")
    expect(page.locator("#new-conversation-dialog")).to_be_hidden()
    expect(page.locator("#thread-name")).to_have_text("Dana Whitfield")
    expect(page).to_have_url(f"{server.url}/inbox/{existing.pk}/")
    assert Conversation.objects.count() == 1


def test_an_opted_out_number_is_refused_with_the_reason(pages, server, agent):
    contact = ContactFactory(phone="+14155550194", display_name="Eve", sms_opted_out_at=timezone.now(),
                             sms_opt_out_reason="texted STOP")
    ConversationFactory(contact=contact, channel="sms")
    page = inbox(pages, agent)
    start(page, "4155550194", "sms")
    expect(page.locator("#new-error")).to_contain_text("opted out of SMS messages")
    expect(page.locator("#new-error")).to_contain_text("texted STOP")
    expect(page.locator("#new-sms")).to_be_hidden()
    assert not Message.objects.filter(direction="outbound").exists()
