"""The open thread in real Chromium: it follows new messages through layout changes, offers a
"New messages" pill instead of jumping when the agent scrolled up, the contact panel closes at
phone width, and messages say who wrote them ("You:" only for the signed-in agent's own)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.tests.factories import MessageFactory
from conversations.tests.test_inbox_browser import row, whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = ("My parcel was supposed to arrive on Tuesday, the tracking page still says it is at the depot, "
        "and nobody answers the phone there. Could you check what happened and tell me when it comes? ")


def long_thread(count=30, **kwargs):
    """A WhatsApp conversation with `count` long messages: taller than any window."""
    conversation = whatsapp_conversation(**kwargs)
    start = timezone.now() - timedelta(minutes=count + 5)
    for index in range(count):
        MessageFactory(conversation=conversation, text=f"{index}: {LONG}", created_at=start + timedelta(minutes=index))
    return conversation


def open_thread(pages, user, conversation, viewport=(1280, 800)):
    page = pages.open(user, path=f"/inbox/{conversation.pk}/", viewport=viewport)
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#message-list .msg").last).to_be_in_viewport()
    return page


def scroll_up(page):
    """As the agent does it: the mouse wheel over the thread."""
    box = page.locator("#messages").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -1500)
    page.wait_for_function("() => { const box = document.getElementById('messages');"
                           " return box.scrollHeight - box.scrollTop - box.clientHeight > 1000; }")


def test_a_message_i_send_is_shown_after_the_contact_panel_reflowed_the_thread_and_when_scrolled_up(pages, agent):
    page = open_thread(pages, agent, long_thread())
    page.click("#toggle-contact")  # a narrower thread: every long message wraps onto more lines
    expect(page.locator("#contact-panel")).to_be_visible()
    expect(page.locator("#message-list .msg").last).to_be_in_viewport()

    page.fill("#composer-text", "Let me check with the depot.")
    page.keyboard.press("Enter")
    sent = page.locator("#message-list .msg.out[data-id]")
    expect(sent).to_have_count(1)
    expect(sent).to_be_in_viewport()

    scroll_up(page)
    page.fill("#composer-text", "Found it: it leaves the depot today.")
    page.keyboard.press("Enter")
    expect(sent).to_have_count(2)
    expect(sent.last).to_be_in_viewport()
    expect(page.locator("#new-messages")).to_be_hidden()


def test_when_scrolled_up_a_new_message_shows_a_pill_instead_of_moving_the_thread(pages, server, agent):
    page = open_thread(pages, agent, long_thread())
    scroll_up(page)
    reading = page.evaluate("document.getElementById('messages').scrollTop")

    server.inbound_whatsapp(from_number="+14155550123", text="Hello? Any news?")
    newest = page.locator("#message-list .msg.in").last
    expect(newest.locator(".msg-text")).to_have_text("Hello? Any news?")
    pill = page.locator("#new-messages")
    expect(pill).to_be_visible()
    expect(pill).to_have_text("New messages ↓")
    expect(newest).not_to_be_in_viewport()
    assert page.evaluate("document.getElementById('messages').scrollTop") == reading  # the agent keeps reading

    pill.click()
    expect(newest).to_be_in_viewport()
    expect(pill).to_be_hidden()
    server.inbound_whatsapp(from_number="+14155550123", text="Thanks!")  # following again: no pill
    expect(page.locator("#message-list .msg.in").last.locator(".msg-text")).to_have_text("Thanks!")
    expect(page.locator("#message-list .msg.in").last).to_be_in_viewport()
    expect(pill).to_be_hidden()


def test_the_thread_stays_at_the_newest_message_while_an_image_loads_and_the_opt_out_notice_appears(pages, server, agent):
    conversation = long_thread(count=20)
    late_image = f"{server.url}/static/img/parley.svg?late"
    last = MessageFactory(conversation=conversation, kind="media", text="This is the box",
                          media=[{"url": late_image, "content_type": "image/svg+xml"}])
    Conversation.objects.filter(pk=conversation.pk).update(last_message=last, last_message_at=last.created_at)
    page = pages.open(agent, path=None)
    held = []
    page.route("**/parley.svg?late", lambda route: held.append(route))  # the image answers when the test says so
    page.goto(f"{server.url}/inbox/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")
    newest = page.locator("#message-list .msg").last
    expect(newest.locator(".msg-text")).to_have_text("This is the box")
    expect(newest.locator(".msg-text")).to_be_in_viewport()
    for _ in range(100):  # Playwright hands over the held request while the test waits on the page
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the image was requested"
    height = page.evaluate("document.getElementById('message-list').scrollHeight")
    held[0].fulfill(status=200, content_type="image/svg+xml", body=(
        '<svg xmlns="http://www.w3.org/2000/svg" width="260" height="260"><rect width="260" height="260" fill="#0f766e"/></svg>'))
    page.wait_for_function(f"() => document.getElementById('message-list').scrollHeight > {height} + 200")
    expect(newest.locator(".msg-text")).to_be_in_viewport()

    server.inbound_whatsapp(from_number="+14155550123", text="STOP")
    expect(page.locator("#composer-notice")).to_contain_text("opted out of WhatsApp")
    stop = page.locator("#message-list .msg.in").last
    expect(stop.locator(".msg-text")).to_have_text("STOP")
    expect(stop.locator(".msg-meta")).to_be_in_viewport()
    expect(page.locator("#new-messages")).to_be_hidden()


def test_at_phone_width_the_contact_panel_closes_with_its_button_escape_or_a_tap_outside(pages, agent):
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/", viewport=(390, 800))
    expect(page.locator("#thread-name")).to_have_text("Dana Whitfield")
    panel = page.locator("#contact-panel")
    toggle = page.locator("#toggle-contact")

    toggle.click()
    expect(panel).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.click("#close-contact")
    expect(panel).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()

    toggle.click()
    expect(panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    toggle.click()
    page.click("#contact-name")
    page.keyboard.press("Escape")  # from the panel's own field, too
    expect(panel).to_be_hidden()

    toggle.click()
    expect(panel).to_be_visible()
    page.mouse.click(20, 400)  # on the thread, beside the panel
    expect(panel).to_be_hidden()
    expect(page.locator("#thread-name")).to_be_visible()


def test_previews_and_quotes_say_you_only_for_my_own_messages(pages, agent, other_agent):
    conversation = whatsapp_conversation()
    question = Message.objects.get(conversation=conversation)
    mine = MessageFactory(conversation=conversation, direction="outbound", sent_by=agent, text="I'll look into it.")
    MessageFactory(conversation=conversation, direction="inbound", text="Thanks", reply_to=mine)
    bobs = MessageFactory(conversation=conversation, direction="outbound", sent_by=other_agent, text="It ships today.",
                          reply_to=question)
    MessageFactory(conversation=conversation, direction="inbound", text="Great", reply_to=bobs)
    Conversation.objects.filter(pk=conversation.pk).update(last_message=bobs, last_message_at=bobs.created_at)
    other = whatsapp_conversation(name="Eli", phone="+14155550124", hours_since_inbound=2)
    own_last = MessageFactory(conversation=other, direction="outbound", sent_by=agent, text="Done.")
    Conversation.objects.filter(pk=other.pk).update(last_message=own_last, last_message_at=own_last.created_at)

    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    expect(row(page, conversation.pk).locator(".conv-preview")).to_have_text("Bob: It ships today.")
    expect(row(page, other.pk).locator(".conv-preview")).to_have_text("You: Done.")
    quotes = page.locator("#message-list .msg-quote")
    expect(quotes).to_have_text(["You: I'll look into it.", "Hi, where is my order?", "Bob: It ships today."])

    bob = pages.open(other_agent, path=f"/inbox/{conversation.pk}/")
    expect(row(bob, conversation.pk).locator(".conv-preview")).to_have_text("You: It ships today.")
    expect(row(bob, other.pk).locator(".conv-preview")).to_have_text("Alice: Done.")
    expect(bob.locator("#message-list .msg-quote")).to_have_text(["Alice: I'll look into it.", "Hi, where is my order?", "You: It ships today."])
