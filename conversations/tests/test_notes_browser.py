"""Private notes and @mentions end to end: two agents side by side in real Chromium, the real
ASGI app in daphne with the simulator's customer phone and the outbound worker, so that what
the customer sees is what Plivo was asked to send.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message, Notification, OutboundJob
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from conversations.tests.support import wait_for
# The simulator's server: its customer phone and the outbound worker run inside it.
from simulator.tests.test_simulator_browser import Screens, customer_says, server, settle  # noqa: F401

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page's browser notifications, recorded instead of shown; "Notify" switched on.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  constructor(title, options) { window.__notifications.push({ title, body: (options || {}).body }); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
localStorage.setItem("parley.notify", "1");
"""


class Agents(Screens):
    def inbox(self, user, path="/inbox/", viewport=(1200, 800)):
        page = self.open(user, path, viewport=viewport, init_scripts=[RECORD_NOTIFICATIONS])
        expect(page.locator("#connection")).to_have_text("Live")
        if path != "/inbox/":  # a conversation's link: wait until its thread is shown
            expect(page.locator("#message-list .msg").first).to_be_visible()
        return page


@pytest.fixture
def screens(browser, server):
    try:
        with Agents(browser, server) as opened:
            yield opened
    finally:
        settle(server)
        # A read receipt the phone caused just before closing may still be being applied: the
        # database is emptied next, and PostgreSQL's TRUNCATE deadlocks with that write.
        server.wait_receipts_applied()


def stored_conversation(phone_number):
    """The customer's conversation, once the webhook worker has applied their message."""
    conversation = wait_for(lambda: Conversation.objects.filter(contact__phone=phone_number).first())
    assert conversation is not None, f"no conversation with {phone_number}"
    return conversation


def saved_notes(page):
    """Notes the server stored (one being saved is drawn at once, without its id)."""
    return page.locator("#message-list .msg.note[data-id]")


def open_thread(inbox, conversation):
    inbox.locator(f'#conversation-list li[data-id="{conversation.pk}"]').click()
    expect(inbox.locator("#thread")).to_be_visible()


def closed_window_conversation(name="Wes Closed", phone="+14155550161"):
    moment = timezone.now() - timedelta(hours=30)
    conversation = ConversationFactory(contact=ContactFactory(display_name=name, phone=phone),
                                       last_inbound_at=moment, last_message_at=moment)
    message = MessageFactory(conversation=conversation, text="Anyone there?", created_at=moment)
    Conversation.objects.filter(pk=conversation.pk).update(last_message=message)
    return conversation


# --- tests -------------------------------------------------------------------------------------------
def test_alice_mentions_bob_in_a_note_he_sees_it_live_and_the_customer_never_does(screens, agent, other_agent):
    phone = screens.phone("+14155550151", name="Maria Lopez")
    customer_says(phone, "My parcel never arrived")
    conversation = stored_conversation("+14155550151")
    alice = screens.inbox(agent)
    bob = screens.inbox(other_agent)
    expect(bob.locator("#mentions-badge")).to_be_hidden()

    open_thread(alice, conversation)
    alice.click("#mode-note")
    expect(alice.locator("#composer")).to_have_class("composer note-mode")
    expect(alice.locator("#send")).to_have_text("Add note")
    alice.locator("#composer-text").press_sequentially("Courier lost it. @b")
    picker = alice.locator("#mention-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("[role=option]")).to_have_count(1)  # Bob; never Alice herself
    expect(picker.locator("[role=option]")).to_contain_text("Bob")
    alice.keyboard.press("Enter")  # picks Bob, sends nothing
    expect(alice.locator("#composer-text")).to_have_value("Courier lost it. @bob ")
    alice.locator("#composer-text").press_sequentially("can you refund?")
    alice.keyboard.press("Enter")

    note = saved_notes(alice)
    expect(note).to_have_count(1)
    expect(alice.locator("#message-list .msg.note")).to_have_count(1)
    expect(note.locator(".note-tag")).to_have_text("Private note")
    expect(note.locator(".note-author")).to_have_text("Alice")
    expect(note.locator(".msg-text")).to_have_text("Courier lost it. @bob can you refund?")
    expect(note.locator(".mention")).to_have_text("@bob")
    expect(alice.locator("#composer-text")).to_have_value("")
    expect(alice.locator("#composer")).to_have_class("composer note-mode")  # still a note until switched

    # Bob: the badge and a browser notification, live; Alice (the author) gets neither.
    expect(bob.locator("#mentions-badge")).to_have_text("1", timeout=2000)
    bob.wait_for_function("() => window.__notifications.length === 1")
    shown = bob.evaluate("window.__notifications[0]")
    assert shown == {"title": "Alice mentioned you · Maria Lopez (WhatsApp)", "body": "Courier lost it. @bob can you refund?"}
    expect(alice.locator("#mentions-badge")).to_be_hidden()
    assert alice.evaluate("window.__notifications") == []

    # Bob opens it from the list: the conversation, scrolled to the note; the badge goes.
    bob.click("#mentions-toggle")
    item = bob.locator("#mentions-list .mention-item")
    expect(item).to_have_count(1)
    expect(item).to_have_class("mention-item unread")
    expect(item).to_contain_text("Alice mentioned you")
    expect(item).to_contain_text("Maria Lopez (WhatsApp)")
    item.locator("button").click()
    expect(bob.locator("#mentions-panel")).to_be_hidden()
    bobs_note = bob.locator("#message-list .msg.note")
    expect(bobs_note).to_be_in_viewport()
    expect(bobs_note.locator(".mention-me")).to_have_text("@bob")
    expect(bob.locator("#mentions-badge")).to_be_hidden()
    assert Notification.objects.get().read_at is not None

    # Then a real reply: it reaches the phone, the note never does.
    alice.click("#mode-reply")
    alice.fill("#composer-text", "We are refunding you today.")
    alice.keyboard.press("Enter")
    expect(phone.locator(".bubble--theirs", has_text="We are refunding you today.")).to_be_visible(timeout=5000)
    expect(phone.locator(".bubble--theirs")).to_have_count(1)
    expect(phone.locator("#thread")).not_to_contain_text("Courier lost it")
    assert list(OutboundJob.objects.values_list("message__text", flat=True)) == ["We are refunding you today."]


def test_a_note_ignores_the_closed_whatsapp_window_and_is_never_sent(screens, agent):
    conversation = closed_window_conversation()
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/")
    expect(alice.locator("#composer")).to_have_class("composer template-only")
    expect(alice.locator("#composer-text")).to_be_hidden()

    alice.locator("#messages").click()
    alice.keyboard.press("n")
    expect(alice.locator("#composer-text")).to_be_focused()
    expect(alice.locator("#composer-notice")).to_be_hidden()
    alice.keyboard.type("Ask billing before we send a template")
    alice.keyboard.press("Enter")
    expect(saved_notes(alice).locator(".msg-text")).to_have_text("Ask billing before we send a template")
    assert Message.objects.get(kind="note").direction == "internal"
    assert not OutboundJob.objects.exists()

    alice.keyboard.press("Escape")
    alice.keyboard.press("r")  # back to a reply: the window's rules are back
    expect(alice.locator("#composer")).to_have_class("composer template-only")
    expect(alice.locator("#composer-notice")).to_contain_text("24-hour WhatsApp window closed")


def test_a_note_draft_is_still_a_note_after_a_reload(screens, agent):
    phone = screens.phone("+14155550152")
    customer_says(phone, "Hello?")
    conversation = stored_conversation("+14155550152")
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/")
    alice.locator("#composer-text").focus()
    alice.keyboard.press("Alt+P")
    expect(alice.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
    alice.keyboard.type("Internal: customer is a reseller")
    alice.reload()
    expect(alice.locator("#connection")).to_have_text("Live")
    expect(alice.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
    expect(alice.locator("#composer-text")).to_have_value("Internal: customer is a reseller")
    alice.locator("#composer-text").press("Enter")
    expect(saved_notes(alice)).to_have_count(1)
    assert not OutboundJob.objects.exists()
    alice.wait_for_timeout(1500)  # longer than the worker needs to send anything queued
    expect(phone.locator(".bubble--theirs")).to_have_count(0)

    alice.locator("#composer-text").press("Alt+L")
    expect(alice.locator("#mode-reply")).to_have_attribute("aria-pressed", "true")


def test_hostile_text_in_a_note_and_a_mention_stays_text(screens, agent, other_agent):
    conversation = closed_window_conversation(name="Hostile Test", phone="+14155550162")
    hostile = '<img src=x onerror="window.__xss=1"> @bob<script>window.__xss=1</script> @<b>alice</b>'
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/")
    bob = screens.inbox(other_agent)
    alice.keyboard.press("n")
    alice.locator("#composer-text").fill(hostile)
    alice.locator("#composer-text").press("Enter")
    note = saved_notes(alice).locator(".msg-text")
    expect(note).to_have_text(hostile)
    expect(note.locator(".mention")).to_have_text("@bob")
    assert alice.locator("#message-list img, #message-list script, #message-list b").count() == 0

    expect(bob.locator("#mentions-badge")).to_have_text("1", timeout=2000)
    bob.click("#mentions-toggle")
    expect(bob.locator("#mentions-list .mention-excerpt")).to_have_text(hostile)
    assert bob.locator("#mentions-panel img, #mentions-panel script, #mentions-panel b").count() == 0
    bob.wait_for_function("() => window.__notifications.length === 1")
    assert bob.evaluate("window.__notifications[0].body") == hostile


def test_a_mention_far_back_in_the_thread_is_scrolled_to(screens, agent, other_agent):
    from conversations.services.thread_entries import note_add

    conversation = closed_window_conversation(name="Long Thread", phone="+14155550163")
    start = timezone.now() - timedelta(hours=20)
    note = note_add(conversation=conversation, author=agent, text="@bob this one is old")
    Message.objects.filter(pk=note.pk).update(created_at=start)
    Notification.objects.filter(message=note).update(created_at=start)
    for n in range(70):  # more than a page of messages after the note
        MessageFactory(conversation=conversation, text=f"later message {n}", created_at=start + timedelta(minutes=n + 1))
    bob = screens.inbox(other_agent)
    expect(bob.locator("#mentions-badge")).to_have_text("1")
    bob.click("#mentions-toggle")
    bob.locator("#mentions-list button").click()
    target = bob.locator(f'#message-list li[data-id="{note.pk}"]')
    expect(target).to_be_in_viewport()
    expect(target).to_contain_text("this one is old")


def test_at_phone_width_the_mentions_and_the_note_switch_fit(screens, agent, other_agent):
    conversation = closed_window_conversation(name="Small Screen", phone="+14155550164")
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/", viewport=(390, 780))
    bob = screens.inbox(other_agent, viewport=(390, 780))
    expect(alice.locator("#mode-note")).to_be_in_viewport()
    alice.click("#mode-note")
    alice.locator("#composer-text").fill("@bob small screens too")
    alice.locator("#composer-text").press("Enter")
    expect(bob.locator("#mentions-badge")).to_have_text("1", timeout=2000)
    expect(bob.locator("#mentions-toggle")).to_be_in_viewport()
    bob.click("#mentions-toggle")
    item = bob.locator("#mentions-list button")
    expect(item).to_be_in_viewport()
    item.click()
    expect(bob.locator("#thread")).to_be_visible()
    expect(bob.locator("#message-list .msg.note")).to_be_in_viewport()


def test_mentions_made_while_the_socket_was_down_show_after_it_reconnects(screens, agent, other_agent):
    from conversations.services.thread_entries import note_add

    conversation = closed_window_conversation(name="Offline Mention", phone="+14155550165")
    bob = screens.open(other_agent, path=None, init_scripts=[RECORD_NOTIFICATIONS])
    bob._socket_cut = True
    sockets = {"allow": True, "current": None}

    def route(ws):
        if not sockets["allow"]:
            ws.close()
            return
        sockets["current"] = ws
        ws.connect_to_server()

    bob.route_web_socket("**/ws/inbox/", route)
    bob.goto(f"{screens.server.url}/inbox/")
    expect(bob.locator("#connection")).to_have_text("Live")
    expect(bob.locator("#mentions-empty")).to_be_attached()
    sockets["allow"] = False
    sockets["current"].close()
    expect(bob.locator("#connection")).to_have_text("Reconnecting…")
    note_add(conversation=conversation, author=agent, text="@bob while you were away")  # its push is lost
    sockets["allow"] = True
    expect(bob.locator("#connection")).to_have_text("Live", timeout=8000)
    expect(bob.locator("#mentions-badge")).to_have_text("1")
    bob.click("#mentions-toggle")
    expect(bob.locator("#mentions-list .mention-excerpt")).to_have_text("@bob while you were away")


def test_a_slow_mentions_fetch_never_takes_back_a_mention_pushed_meanwhile(screens, agent, other_agent):
    """Bob's page fetches his mentions when it opens and when its socket is live; on a busy
    server those answers can come after the push of a note written meanwhile. Seen in CI: the
    late, older answer put the badge back to 0 and the browser notification never showed."""
    conversation = closed_window_conversation(name="Slow Server", phone="+14155550166")
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/")
    bob = screens.open(other_agent, path=None, init_scripts=[RECORD_NOTIFICATIONS])
    mentions_fetch = re.compile(r"/api/v1/notifications/\?limit=")
    held = []

    def hold_the_first_two(route):  # answered now, delivered later
        if len(held) < 2:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    bob.route(mentions_fetch, hold_the_first_two)
    bob.goto(f"{screens.server.url}/inbox/")
    expect(bob.locator("#connection")).to_have_text("Live")
    assert wait_for(lambda: len(held) == 2 or bob.wait_for_timeout(50))  # on opening and on going live

    alice.keyboard.press("n")
    alice.locator("#composer-text").fill("@bob the courier called back")
    alice.locator("#composer-text").press("Enter")
    expect(bob.locator("#mentions-badge")).to_have_text("1")  # the push

    asked_again = []
    bob.on("request", lambda request: mentions_fetch.search(request.url) and asked_again.append(request))
    for route, answer in held:  # the older answers arrive: the page asks again
        route.fulfill(response=answer)
    assert wait_for(lambda: asked_again or bob.wait_for_timeout(50))
    bob.wait_for_load_state("networkidle")
    expect(bob.locator("#mentions-badge")).to_have_text("1")
    bob.click("#mentions-toggle")
    expect(bob.locator("#mentions-list .mention-excerpt")).to_have_text("@bob the courier called back")
    assert bob.evaluate("window.__notifications.map((n) => n.body)") == ["@bob the courier called back"]


def test_switching_to_a_note_while_a_reply_is_sending_keeps_the_next_text_a_note(screens, agent):
    phone = screens.phone("+14155550153")
    customer_says(phone, "Can I get a refund?")
    conversation = stored_conversation("+14155550153")
    alice = screens.inbox(agent, path=f"/inbox/{conversation.pk}/")
    held = []
    alice.route(f"**/api/v1/conversations/{conversation.pk}/messages/",
                lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    alice.fill("#composer-text", "Let me check.")
    alice.keyboard.press("Enter")
    alice.wait_for_function("() => document.getElementById('composer').getAttribute('aria-busy') === 'true'")
    alice.click("#mode-note")  # while the reply is on its way
    expect(alice.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
    assert len(held) == 1
    held[0].continue_()
    expect(alice.locator("#composer")).to_have_attribute("aria-busy", "false")
    expect(alice.locator("#composer-text")).to_have_value("")
    expect(alice.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
    alice.locator("#composer-text").fill("Do not promise a refund yet")
    alice.locator("#composer-text").press("Enter")
    expect(saved_notes(alice)).to_have_count(1)
    expect(phone.locator(".bubble--theirs", has_text="Let me check.")).to_be_visible(timeout=5000)
    assert list(OutboundJob.objects.values_list("message__text", flat=True)) == ["Let me check."]
    expect(phone.locator("#thread")).not_to_contain_text("refund yet")
