"""The inbox end to end: real Chromium, the real ASGI app in daphne, Plivo-signed webhooks.

One browser and one server for the module; every test gets fresh browser contexts and an
emptied database. Every page is watched for CSP violations, console errors and script errors.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from conversations.models import Contact, Conversation, Message, OutboundJob
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory, MessageTemplateFactory

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEFAULT_PASSWORD_HASHERS = list(settings.PASSWORD_HASHERS)


def row(page, conversation_id):
    return page.locator(f'#conversation-list li[data-id="{conversation_id}"]')


def whatsapp_conversation(name="Dana Whitfield", phone="+14155550123", hours_since_inbound=1, **kwargs):
    moment = timezone.now() - timedelta(hours=hours_since_inbound)
    contact = ContactFactory(display_name=name, phone=phone)
    conversation = ConversationFactory(contact=contact, channel="whatsapp", last_inbound_at=moment, last_message_at=moment, **kwargs)
    message = MessageFactory(conversation=conversation, text="Hi, where is my order?", created_at=moment)
    Conversation.objects.filter(pk=conversation.pk).update(last_message=message)
    return conversation


# --- tests ------------------------------------------------------------------------------------------
def test_agent_signs_in_and_a_new_whatsapp_message_appears_live(pages, server, agent):
    with override_settings(PASSWORD_HASHERS=DEFAULT_PASSWORD_HASHERS):  # what the server checks with
        agent.set_password("correct horse battery staple")
        agent.save()
    page = pages.open(path="/inbox/")
    expect(page).to_have_url(f"{server.url}/accounts/login/?next=/inbox/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/inbox/")
    expect(page.locator("#connection")).to_have_text("Live")

    server.inbound_whatsapp(from_number="+14155550123", text="Hello, is anyone there?", profile_name="Dana Whitfield")
    conversation = Conversation.objects.get(contact__phone="+14155550123")
    expect(row(page, conversation.pk)).to_contain_text("Dana Whitfield", timeout=1000)
    expect(row(page, conversation.pk)).to_contain_text("Hello, is anyone there?")
    expect(row(page, conversation.pk).locator(".unread-badge")).to_have_text("1")
    expect(page).to_have_title("(1) Inbox · Parley")

    row(page, conversation.pk).click()
    expect(page.locator("#message-list .msg.in .msg-text")).to_have_text(["Hello, is anyone there?"])
    # Opening it marks it read, for every tab.
    expect(row(page, conversation.pk).locator(".unread-badge")).to_have_count(0)
    expect(page).to_have_title("Inbox · Parley")

    # The next message lands in the open thread without reload, within a second.
    server.inbound_whatsapp(from_number="+14155550123", text="I need to change my address")
    expect(page.locator("#message-list .msg.in .msg-text").last).to_have_text("I need to change my address", timeout=1000)


def test_hostile_name_message_and_links_stay_inert(pages, server, agent):
    hostile_name = '<img src=x onerror="window.__xss=1">Eve'
    hostile_text = '<script>window.__xss=1</script><b>bold?</b> <img src=x onerror="window.__xss=1">'
    page = pages.open(agent)
    expect(page.locator("#connection")).to_have_text("Live")
    server.inbound_whatsapp(from_number="+14155550666", text=hostile_text, profile_name=hostile_name)
    conversation = Conversation.objects.get(contact__phone="+14155550666")
    MessageFactory(
        conversation=conversation,
        kind="media",
        text="see attachment",
        media=[{"url": "javascript:window.__xss=1", "content_type": "image/png"}],
    )
    expect(row(page, conversation.pk).locator(".conv-name")).to_have_text(hostile_name)
    row(page, conversation.pk).click()
    expect(page.locator("#thread-name")).to_have_text(hostile_name)
    first = page.locator("#message-list .msg.in").first
    expect(first.locator(".msg-text")).to_have_text(hostile_text)
    assert first.locator("script, b, img").count() == 0
    attachment = page.locator("#message-list .msg.in").last
    expect(attachment).to_contain_text("unsafe link (not opened)")
    assert attachment.locator("a, img").count() == 0
    page.click("#toggle-contact")
    expect(page.locator("#contact-name")).to_have_value(hostile_name)
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.__xss") == 0


def test_two_agents_see_each_others_assignments_and_status_changes(pages, agent, other_agent):
    conversation = whatsapp_conversation()
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    bob = pages.open(other_agent, path=f"/inbox/{conversation.pk}/")
    for page in (alice, bob):
        expect(page.locator("#connection")).to_have_text("Live")
        expect(page.locator("#thread-assignee")).to_have_text("Unassigned")

    alice.click("#assign-me")
    expect(alice.locator("#thread-assignee")).to_have_text("Assigned to you")
    expect(bob.locator("#thread-assignee")).to_have_text("Assigned to Alice", timeout=3000)
    expect(row(bob, conversation.pk).locator(".tag").first).to_have_text("Alice")
    # Bob may not pull it away: the controls say why.
    expect(bob.locator("#assign-me")).to_be_disabled()
    expect(bob.locator("[data-count=unassigned]")).to_have_text("0", timeout=3000)

    alice.select_option("#assign-other", label="Bob")
    expect(bob.locator("#thread-assignee")).to_have_text("Assigned to you", timeout=3000)
    bob.keyboard.press("e")  # resolve
    expect(alice.locator("#reopen")).to_be_visible(timeout=3000)
    expect(row(alice, conversation.pk)).to_have_count(0)  # left the Open tab
    assert Conversation.objects.get(pk=conversation.pk).status == "resolved"


def test_socket_cut_shows_reconnecting_then_catches_up(pages, server, agent):
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=None)
    page._socket_cut = True
    sockets = {"allow": True, "current": None}

    def route(ws):
        if not sockets["allow"]:
            ws.close()
            return
        sockets["current"] = ws
        ws.connect_to_server()

    page.route_web_socket("**/ws/inbox/", route)
    page.goto(f"{server.url}/inbox/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")
    # The thread's first load is done too: a message stored before it would rightly be shown.
    expect(page.locator("#message-list")).to_contain_text("Hi, where is my order?")

    sockets["allow"] = False
    sockets["current"].close()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    server.inbound_whatsapp(from_number="+14155550123", text="Message sent while you were offline")
    server.inbound_whatsapp(from_number="+14155550777", text="A new customer while you were offline", profile_name="Olu")
    page.wait_for_timeout(1500)  # several refused reconnects: still not live, nothing shown
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    expect(page.locator("#message-list")).not_to_contain_text("while you were offline")

    sockets["allow"] = True
    expect(page.locator("#connection")).to_have_text("Live", timeout=8000)
    expect(page.locator("#message-list .msg.in .msg-text").last).to_have_text("Message sent while you were offline")
    newcomer = Conversation.objects.get(contact__phone="+14155550777")
    expect(row(page, newcomer.pk)).to_contain_text("A new customer while you were offline")


def test_closed_whatsapp_window_allows_only_a_template(pages, agent):
    conversation = whatsapp_conversation(hours_since_inbound=30)
    MessageTemplateFactory(name="order_update", body="Hi {{1}}, your order {{2}} has shipped.")
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "template-only")
    expect(page.locator("#composer-notice")).to_contain_text("24-hour WhatsApp window closed")
    expect(page.locator("#composer-text")).to_be_hidden()
    expect(page.locator("#send")).to_be_hidden()
    expect(row(page, conversation.pk).locator(".window-badge")).to_have_text("closed")
    page.click("#open-templates")
    expect(page.locator("#template-dialog")).to_be_visible()
    page.select_option("#template-select", label="order_update (en_US)")
    page.fill("#tpl-body-1", "Dana")
    page.click("#template-send")
    expect(page.locator("#template-error")).to_contain_text("Fill in every parameter")
    page.fill("#tpl-body-2", "#1042")
    expect(page.locator("#template-preview")).to_contain_text("Hi Dana, your order #1042 has shipped.")
    page.click("#template-send")
    sent = page.locator("#message-list .msg.out[data-id]")
    expect(sent).to_have_count(1)
    expect(sent.locator(".msg-label")).to_have_text("Template · order_update")
    message = Message.objects.get(direction="outbound")
    assert message.kind == "template" and "Hi Dana, your order #1042 has shipped." in message.text


def test_open_window_shows_countdown_and_list_badge(pages, agent):
    conversation = whatsapp_conversation(hours_since_inbound=22)
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "free")
    expect(page.locator("#window-countdown")).to_have_text("Window closes in 2 h")
    expect(row(page, conversation.pk).locator(".window-badge")).to_have_text("closes in 2 h")


def test_opted_out_contact_cannot_be_messaged_and_the_page_says_why(pages, agent):
    contact = ContactFactory(display_name="Chloe", phone="+14155550888", sms_opted_out_at=timezone.now(), sms_opt_out_reason="STOP")
    conversation = ConversationFactory(contact=contact, channel="sms")
    MessageFactory(conversation=conversation, text="STOP")
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    expect(page.locator("#composer-notice")).to_contain_text("opted out of SMS")
    expect(page.locator("#composer-text")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()


def test_sms_composer_counts_segments(pages, agent):
    conversation = ConversationFactory(channel="sms", contact=ContactFactory(phone="+14155550889"))
    MessageFactory(conversation=conversation, text="hi")
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    page.fill("#composer-text", "a" * 161)
    expect(page.locator("#segment-counter")).to_have_text("161 characters · 2 SMS segments (GSM-7)")
    page.fill("#composer-text", "Thanks 🙏")
    expect(page.locator("#segment-counter")).to_contain_text("1 SMS segment (UCS-2")


def test_keyboard_shortcuts_and_contact_rename(pages, agent):
    first = whatsapp_conversation(name="First", phone="+14155550301", hours_since_inbound=1)
    second = whatsapp_conversation(name="Second", phone="+14155550302", hours_since_inbound=2)
    page = pages.open(agent)
    expect(row(page, first.pk)).to_be_visible()
    page.keyboard.press("j")
    expect(page.locator("#thread-name")).to_have_text("First")
    page.keyboard.press("j")
    expect(page.locator("#thread-name")).to_have_text("Second")
    page.keyboard.press("k")
    expect(page.locator("#thread-name")).to_have_text("First")
    page.keyboard.press("r")
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("Second")
    expect(page.locator("#conversation-list .conv")).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    row(page, second.pk).click()
    expect(page.locator("#thread-name")).to_have_text("Second")
    page.click("#toggle-contact")
    page.fill("#contact-name", "Second Customer")
    page.click("#contact-form button[type=submit]")
    expect(page.locator("#thread-name")).to_have_text("Second Customer")
    assert Contact.objects.get(pk=second.contact_id).display_name == "Second Customer"


def test_phone_width_shows_one_pane_at_a_time(pages, agent):
    conversation = whatsapp_conversation()
    page = pages.open(agent, viewport=(390, 800))
    expect(row(page, conversation.pk)).to_be_visible()
    row(page, conversation.pk).click()
    expect(page.locator("#thread-name")).to_be_visible()
    expect(page.locator(".list-pane")).to_be_hidden()
    page.click("#back-to-list")
    expect(row(page, conversation.pk)).to_be_visible()


def test_reply_shows_at_once_and_ticks_follow_the_delivery_reports(pages, server, agent):
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")
    page.fill("#composer-text", "Your order ships tomorrow.")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # a second Enter on the now-empty composer sends nothing
    outgoing = page.locator("#message-list .msg.out")
    expect(outgoing).to_have_count(1)
    expect(outgoing.locator(".msg-text")).to_have_text("Your order ships tomorrow.")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)  # the server copy replaced it
    message = Message.objects.get(direction="outbound")
    assert outgoing.get_attribute("data-id") == str(message.pk)
    assert message.idempotency_key and Message.objects.filter(direction="outbound").count() == 1

    message_uuid = str(uuid.uuid4())
    for sequence, status, tick in ((1, "sent", "sent"), (2, "delivered", "delivered"), (3, "read", "read")):
        server.status_report(message_id=message.pk, message_uuid=message_uuid, to_number="+14155550123", status=status, sequence=sequence)
        expect(outgoing.locator(".tick")).to_have_class(f"tick {tick}", timeout=3000)
    expect(outgoing).to_have_count(1)


def test_a_colleagues_reply_appears_in_my_tab(pages, agent, other_agent):
    conversation = whatsapp_conversation()
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    bob = pages.open(other_agent, path=f"/inbox/{conversation.pk}/")
    expect(bob.locator("#connection")).to_have_text("Live")
    alice.fill("#composer-text", "On it, Dana!")
    alice.click("#send")
    expect(bob.locator("#message-list .msg.out .msg-text")).to_have_text("On it, Dana!", timeout=3000)
    expect(bob.locator("#message-list .msg.out .msg-sender")).to_have_text("Alice")


def test_failed_send_shows_the_reason_and_a_retry_button(pages, server, agent):
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    page.fill("#composer-text", "Hello?")
    page.keyboard.press("Enter")
    outgoing = page.locator("#message-list .msg.out")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    message = Message.objects.get(direction="outbound")
    # What the outbound worker would have recorded: Plivo accepted the send.
    OutboundJob.objects.filter(message=message).update(state=OutboundJob.State.ACCEPTED)
    server.status_report(message_id=message.pk, message_uuid=str(uuid.uuid4()), to_number="+14155550123", status="undelivered", sequence=1, error_code="80")
    expect(outgoing.locator(".tick")).to_have_class("tick failed", timeout=3000)
    expect(outgoing.locator(".msg-error button")).to_have_text("Retry")
    expect(outgoing.locator(".msg-error span")).to_have_text(re.compile(r"\w+ \w+ \w+"))  # a reason, in words
    outgoing.locator(".msg-error button").click()
    # Sent again (to the fake Plivo API this server hosts): no longer failed, no error shown.
    expect(outgoing.locator(".msg-error")).to_have_count(0, timeout=3000)
    expect(outgoing.locator(".tick")).not_to_have_class("tick failed")
    assert Message.objects.filter(direction="outbound").count() == 1


def test_replayed_or_late_events_never_undo_newer_state(pages, agent):
    """Catch-up replays events from before the last cursor; an old snapshot must not win."""
    conversation = whatsapp_conversation()
    message = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, status="read", text="Done!")
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    bubble = page.locator(f'#message-list .msg.out[data-id="{message.pk}"]')
    expect(bubble.locator(".tick")).to_have_class("tick read")
    older = page.evaluate(
        """(id) => {
            const inbox = window.parleyInbox;
            const current = inbox.state.messages.get(id);
            const stale = Object.assign({}, current, {status: "sent", updated_at: "2001-01-01T00:00:00Z"});
            inbox.dispatch({cursor: 1, type: "message.updated", payload: {message: stale}});
            inbox.dispatch({cursor: 2, type: "message.updated", payload: {message: current}});
            inbox.dispatch({cursor: 2, type: "message.updated", payload: {message: current}});
            return inbox.state.messages.get(id).status;
        }""",
        message.pk,
    )
    assert older == "read"
    expect(bubble.locator(".tick")).to_have_class("tick read")
    expect(page.locator("#message-list .msg.out")).to_have_count(1)


def test_every_message_kind_is_rendered_for_what_it_is(pages, server, agent):
    c = whatsapp_conversation()
    image_url = f"{server.url}/static/img/parley.svg"
    MessageFactory(conversation=c, kind="media", text="photo", media=[{"url": image_url, "content_type": "image/svg+xml"}])
    MessageFactory(conversation=c, kind="media", text="", media=[{"url": "https://cdn.example/invoice.pdf", "content_type": "application/pdf"}])
    MessageFactory(conversation=c, kind="location", text="Home, Main St 1",
                   structured={"location": {"latitude": "52.52", "longitude": "13.405", "name": "Home", "address": "Main St 1"}})
    MessageFactory(conversation=c, kind="list_reply", text="Size M", structured={"list_reply": {"id": "size-m", "title": "Size M"}})
    MessageFactory(conversation=c, kind="unsupported", text="", structured={"content_type": "contacts", "raw": {}})
    MessageFactory(conversation=c, direction="outbound", sent_by=agent, status="sent", kind="interactive", text="Pick one",
                   structured={"interactive": {"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": [{"id": "a", "title": "Yes"}, {"id": "b", "title": "No"}]}}})
    MessageFactory(conversation=c, direction="outbound", sent_by=agent, status="delivered", kind="template", text="Hi Dana",
                   structured={"template": {"name": "order_update"}, "rendered": {"buttons": [{"type": "url", "text": "Track order"}]}})
    MessageFactory(conversation=c, direction="outbound", sent_by=agent, status="queued", text="On its way", unconfirmed_since=timezone.now())
    page = pages.open(agent, path=f"/inbox/{c.pk}/")
    items = page.locator("#message-list .msg")
    expect(items).to_have_count(9)
    expect(items.nth(1).locator("a img")).to_have_attribute("src", image_url)
    expect(items.nth(1).locator("a")).to_have_attribute("target", "_blank")
    expect(items.nth(2).locator("a.file")).to_have_text("Download application (application/pdf)")
    expect(items.nth(3).locator("a")).to_have_attribute("href", "https://www.openstreetmap.org/?mlat=52.52&mlon=13.405#map=16/52.52/13.405")
    expect(items.nth(3)).to_contain_text("52.52000, 13.40500")
    expect(items.nth(4).locator(".msg-label")).to_have_text("List reply")
    expect(items.nth(4)).to_contain_text("Payload: size-m")
    expect(items.nth(5).locator(".msg-placeholder")).to_contain_text("(contacts) can't be shown here")
    expect(items.nth(6).locator(".msg-buttons span")).to_have_text(["Yes", "No"])
    expect(items.nth(6).locator(".tick")).to_have_class("tick sent")
    expect(items.nth(7).locator(".msg-label")).to_have_text("Template · order_update")
    expect(items.nth(7).locator(".msg-buttons span")).to_have_text(["Track order"])
    expect(items.nth(7).locator(".tick")).to_have_class("tick delivered")
    expect(items.nth(8).locator(".tick")).to_have_class("tick clock")
    expect(items.nth(8).locator(".msg-unconfirmed")).to_have_text("unconfirmed")
