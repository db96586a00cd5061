"""The composer never sends an agent's words to the wrong customer and never loses them: a
draft per conversation that survives switching and reloading, and a send that fails or is
refused keeps the text, with the reason. Real Chromium against the real ASGI app (daphne).
"""

import json
import re

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from conversations.models import Message
from conversations.tests.test_inbox_browser import row, whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVER = re.compile(r"\bover\b")
DRAFTS = "Object.keys(localStorage).filter((name) => name.startsWith('parley.draft.'))"


def expected_console_error(pages, fragment):
    """Chromium logs every failed request as a console error; drop the ones a test caused."""
    pages.problems[:] = [problem for problem in pages.problems if fragment not in problem]


def sign_in_again(page, user, server):
    """What signing in on the login page does: a new session cookie in the same browser profile."""
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_hash": user.get_session_auth_hash(),
                    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
    session.create()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": server.url}])


def open_thread(pages, user, conversation):
    """The inbox with `conversation` open, live and its messages loaded."""
    page = pages.open(user, path=f"/inbox/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#message-list")).to_contain_text("Hi, where is my order?")
    return page


def test_each_conversation_keeps_its_own_draft_and_enter_never_sends_it_to_another(pages, server, agent):
    maria = whatsapp_conversation(name="Maria Garcia", phone="+14155550401", hours_since_inbound=1)
    james = whatsapp_conversation(name="James Smith", phone="+14155550402", hours_since_inbound=2)
    image = f"{server.url}/static/img/parley.svg"
    page = open_thread(pages, agent, maria)
    expect(page.locator("#thread-name")).to_have_text("Maria Garcia")
    page.fill("#composer-text", "Your refund for order 1042 is on its way")
    page.get_by_role("button", name="Attach a media link").click()  # the composer's "Link" button
    page.fill("#media-url", image)

    row(page, james.pk).click()
    expect(page.locator("#thread-name")).to_have_text("James Smith")
    expect(page.locator("#composer-text")).to_have_value("")
    expect(page.locator("#media-row")).to_be_hidden()
    page.focus("#composer-text")
    page.keyboard.press("Enter")  # James's draft is empty: nothing is sent
    expect(page.locator("#message-list .msg.out")).to_have_count(0)
    page.keyboard.type("Hi James, checking now.")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")

    row(page, maria.pk).click()
    expect(page.locator("#thread-name")).to_have_text("Maria Garcia")
    expect(page.locator("#composer-text")).to_have_value("Your refund for order 1042 is on its way")
    expect(page.locator("#media-url")).to_have_value(image)
    page.reload()
    expect(page.locator("#thread-name")).to_have_text("Maria Garcia")
    expect(page.locator("#composer-text")).to_have_value("Your refund for order 1042 is on its way")
    expect(page.locator("#media-row")).to_be_visible()
    expect(page.locator("#media-url")).to_have_value(image)

    page.focus("#composer-text")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")
    expect(page.locator("#media-row")).to_be_hidden()
    assert page.evaluate(DRAFTS) == []  # accepted by the server: nothing left to restore
    page.reload()
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")

    to_james = Message.objects.filter(conversation=james, direction="outbound")
    to_maria = Message.objects.filter(conversation=maria, direction="outbound")
    assert [m.text for m in to_james] == ["Hi James, checking now."]
    assert [(m.kind, m.text, [item["url"] for item in m.media]) for m in to_maria] == [
        ("media", "Your refund for order 1042 is on its way", [image])
    ]


def test_a_refused_send_keeps_the_text_and_says_why_and_whatsapp_shows_a_live_counter(pages, agent):
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    counter = page.locator("#segment-counter")
    page.fill("#composer-text", "Hello 👋")
    expect(counter).to_have_text("7 / 4,096 characters")  # the emoji counts once, as the server counts it
    page.fill("#composer-text", "x" * 4096)
    expect(counter).to_have_text("4,096 / 4,096 characters")
    expect(counter).not_to_have_class(OVER)
    too_long = "x" * 4097
    page.fill("#composer-text", too_long)
    expect(counter).to_have_text("4,097 / 4,096 characters · 1 too many")
    expect(counter).to_have_class(OVER)

    page.keyboard.press("Enter")
    expect(page.locator("#composer-error")).to_have_text("Not sent: The text is 4097 characters long; the limit is 4096.")
    expect(page.locator("#composer-text")).to_have_value(too_long)
    expect(page.locator("#composer-text")).to_be_editable()
    expect(page.locator("#message-list .msg.out")).to_have_count(0)
    assert not Message.objects.filter(direction="outbound").exists()
    page.reload()
    expect(page.locator("#composer-text")).to_have_value(too_long)  # still the draft

    page.fill("#composer-text", "x" * 4096)
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")
    expect(page.locator("#composer-error")).to_be_hidden()
    assert Message.objects.get(direction="outbound").text == "x" * 4096
    expected_console_error(pages, "status of 422")


def test_an_expired_session_keeps_the_draft_and_asks_to_sign_in_again(pages, server, agent):
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    page.fill("#composer-text", "Are you still there?")
    Session.objects.all().delete()  # the session expired on the server

    page.keyboard.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text("Sign in again to send")
    expect(page.locator("#signed-out")).to_be_visible()
    expect(page.locator("#composer-text")).to_have_value("Are you still there?")
    expect(page.locator("#message-list .msg.out")).to_have_count(0)
    assert not Message.objects.filter(direction="outbound").exists()

    # Leave the page first, as the "Sign in again" link does: a request it still makes with the
    # dead session is answered with a cookie deletion, which must not hit the new session's cookie.
    page.goto("about:blank")
    sign_in_again(page, agent, server)
    page.goto(f"{server.url}/inbox/{conversation.pk}/")
    expect(page.locator("#thread-name")).to_have_text("Dana Whitfield")
    expect(page.locator("#composer-text")).to_have_value("Are you still there?")
    page.focus("#composer-text")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")
    assert Message.objects.get(direction="outbound").text == "Are you still there?"
    expected_console_error(pages, "status of 403")


def test_a_send_whose_answer_was_lost_is_kept_then_cleared_when_the_message_arrives_live(pages, agent):
    """The request reached the server but the answer never came back (a dropped connection):
    the text stays until the agent's own message arrives over the socket, and sending it again
    meanwhile reuses its idempotency key, so the customer gets it once."""
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    sockets = {"allow": False}  # no live events for now

    def socket(ws):
        if sockets["allow"]:
            ws.connect_to_server()
        else:
            ws.close()

    page.route_web_socket("**/ws/inbox/", socket)
    page._socket_cut = True
    keys = []

    def answer_lost(route):
        if route.request.method != "POST":
            return route.fallback()
        keys.append(route.request.headers["idempotency-key"])
        route.fetch()  # the server stores the message...
        route.abort()  # ...and its answer is lost

    page.route("**/api/v1/conversations/*/messages/", answer_lost)
    page.reload()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    expect(page.locator("#thread-name")).to_have_text("Dana Whitfield")
    page.fill("#composer-text", "Your parcel is at the depot")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text("Network problem: not sent yet")
    expect(page.locator("#composer-text")).to_have_value("Your parcel is at the depot")
    stored = page.evaluate(f"{DRAFTS}.map((name) => localStorage.getItem(name))")
    assert [json.loads(draft)["key"] for draft in stored] == keys  # kept with its key, for a resend

    page.keyboard.press("Enter")  # sent again: the same key, so the server stores nothing new
    expect(page.locator("#composer-error")).to_contain_text("Network problem: not sent yet")
    assert len(keys) == 2 and keys[0] == keys[1]
    assert Message.objects.filter(direction="outbound").count() == 1

    page.unroute("**/api/v1/conversations/*/messages/")
    sockets["allow"] = True
    # The socket reconnects and catches up: the agent's own message arrives with the draft's key.
    expect(page.locator("#connection")).to_have_text("Live", timeout=10000)
    expect(page.locator("#message-list .msg.out[data-id]")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_value("")
    expect(page.locator("#composer-error")).to_be_hidden()
    assert page.evaluate(DRAFTS) == []
    assert Message.objects.filter(direction="outbound").count() == 1
    expected_console_error(pages, "net::ERR_FAILED")
