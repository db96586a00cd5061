"""The whole demo end to end, as `make run` serves it: real Chromium, the real ASGI app in
daphne with the simulator on and the outbound worker inside it. The customer phone and the
agent inbox side by side; nothing is faked but Plivo's servers (the simulator's fake API).

Each test uses its own customer numbers: the simulator keeps its phones in the server's memory
for the whole module, while the database is emptied after every test.
"""

import re
import time

import pytest

import requests

from conversations.models import Contact, Message, OutboundJob, SendAttempt
from conversations.tests.browser import Pages, module_server

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every status an outbound message shows in the inbox, in the order it showed them.
RECORD_STATUSES = """
window.__statuses = {};
new MutationObserver(() => {
  document.querySelectorAll("#message-list .msg.out[data-id]").forEach((li) => {
    const seen = (window.__statuses[li.dataset.id] = window.__statuses[li.dataset.id] || []);
    if (seen[seen.length - 1] !== li.dataset.status) seen.push(li.dataset.status);
  });
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
"""


@pytest.fixture(scope="module")
def server(browser, django_db_setup, django_db_blocker, tmp_path_factory):
    """`make run` in miniature: simulator on, embedded outbound worker, quick delivery reports."""
    live = module_server(django_db_blocker, tmp_path_factory, extra_env={
        "PLIVO_SIMULATOR": "true",
        "OUTBOUND_WORKER_EMBEDDED": "true",
        # The first report comes after the worker has stored the send's acceptance: a report
        # racing that commit can deadlock on PostgreSQL (advisory uuid lock vs message row lock).
        "SIMULATOR_REPORT_DELAYS": "0.8,1.0,1.2,1.4",
        "OUTBOUND_RETRY_BASE_SECONDS": "0.2",
    })
    yield live
    live.stop()


class Screens(Pages):
    """The agent's inbox and the customer's phone, each watched for CSP violations and errors."""

    def inbox(self, user, path="/inbox/"):
        page = self.open(user, path, viewport=(1200, 800), init_scripts=[RECORD_STATUSES])
        expect(page.locator("#connection")).to_have_text("Live")
        return page

    def phone(self, number, channel="whatsapp", name=""):
        page = self.open(path="/simulator/", viewport=(1000, 800))
        page.fill("#phone-input", number)
        page.fill("#name-input", name)
        page.check(f"input[name=channel][value={channel}]")
        page.click("#open-form button[type=submit]")
        return page


def settle(server, timeout=10.0):
    """Wait until the server stops writing: every send made and every delivery report posted.
    The database is emptied after each test, and PostgreSQL's TRUNCATE would deadlock with a
    late report still being stored."""
    deadline = time.monotonic() + timeout
    while True:
        busy_jobs = list(OutboundJob.objects.filter(state__in=[OutboundJob.State.PENDING, OutboundJob.State.IN_FLIGHT])
                         .values_list("message_id", "state"))
        pending = requests.get(f"{server.url}/simulator/phone/thread/", params={"phone": "+14155550100"},
                               timeout=5).json()["reports_pending"]
        if not busy_jobs and not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still busy after {timeout} s: jobs {busy_jobs}, {pending} reports to post "
                                 f"(see {server.log_path})")
        time.sleep(0.1)


@pytest.fixture
def screens(browser, server):
    try:
        with Screens(browser, server) as opened:
            yield opened
    finally:
        settle(server)  # after closing: the phones stop looking, so no further read receipts


def customer_says(phone, text):
    expect(phone.locator("#phone-chat")).to_be_visible()
    phone.get_by_role("textbox", name="Message", exact=True).fill(text)
    phone.keyboard.press("Enter")
    expect(phone.locator(".bubble--mine", has_text=text).locator(".bubble-webhook")).to_have_text("✓✓ Parley got it")


def agent_api(inbox, method, path, body=None):
    """A call to Parley's REST API from the signed-in agent's page (session and CSRF, as the inbox does)."""
    return inbox.evaluate(
        """async ([method, path, body]) => {
            const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
            const response = await fetch(path, {method, headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                                                 body: body ? JSON.stringify(body) : undefined});
            return {status: response.status, body: await response.json().catch(() => null)};
        }""",
        [method, path, body],
    )


def open_thread(inbox, text):
    inbox.locator("#conversation-list li", has_text=text).click()
    expect(inbox.locator("#message-list .msg.in").last).to_contain_text(text)


def in_order(seen, expected):
    """Whether `expected` appears in `seen` in this order (other statuses may come between)."""
    iterator = iter(seen)
    return all(status in iterator for status in expected)


# --- tests -------------------------------------------------------------------------------------------
def test_customer_message_reaches_the_inbox_and_the_reply_comes_back_with_ticks(screens, agent):
    inbox = screens.inbox(agent)
    phone = screens.phone("+14155550131", name="Dana Scully")

    customer_says(phone, "Hi! Where is my parcel?")
    row = inbox.locator("#conversation-list li", has_text="Hi! Where is my parcel?")
    expect(row).to_contain_text("Dana Scully", timeout=2000)

    open_thread(inbox, "Hi! Where is my parcel?")
    inbox.fill("#composer-text", "It left our warehouse this morning.")
    inbox.keyboard.press("Enter")

    arrived = phone.locator(".bubble--theirs", has_text="It left our warehouse this morning.")
    expect(arrived).to_be_visible(timeout=5000)
    # The phone shows the chat, so the customer reads it: Parley's ticks go all the way to read.
    expect(arrived).to_have_attribute("data-state", "read", timeout=8000)
    expect(arrived.locator(".bubble-state")).to_have_text("✓✓ read")
    outgoing = inbox.locator("#message-list .msg.out", has_text="It left our warehouse this morning.")
    expect(outgoing).to_have_attribute("data-status", "read", timeout=5000)
    expect(outgoing.locator(".tick")).to_have_class(re.compile(r"\bread\b"))
    seen = inbox.evaluate("window.__statuses")[outgoing.get_attribute("data-id")]
    assert in_order(seen, ["sent", "delivered", "read"]), seen

    phone.get_by_role("textbox", name="Message", exact=True).fill("Great, thanks!")
    phone.keyboard.press("Enter")
    expect(inbox.locator("#message-list .msg.in").last).to_contain_text("Great, thanks!", timeout=2000)


def test_read_waits_until_the_customer_looks_at_the_chat(screens, agent):
    phone = screens.phone("+14155550132")
    customer_says(phone, "Hello, is the shop open on Sunday?")
    phone.close()  # the customer puts the phone away

    inbox = screens.inbox(agent)
    open_thread(inbox, "is the shop open on Sunday?")
    inbox.fill("#composer-text", "Yes, from 10 to 4.")
    inbox.keyboard.press("Enter")
    outgoing = inbox.locator("#message-list .msg.out", has_text="Yes, from 10 to 4.")
    expect(outgoing).to_have_attribute("data-status", "delivered", timeout=8000)
    inbox.wait_for_timeout(1500)  # longer than every report delay: nobody has looked yet
    expect(outgoing).to_have_attribute("data-status", "delivered")

    screens.phone("+14155550132")  # the customer opens the chat
    expect(outgoing).to_have_attribute("data-status", "read", timeout=5000)


def test_button_reply_round_trip(screens, agent):
    phone = screens.phone("+14155550133")
    customer_says(phone, "My order arrived damaged.")
    inbox = screens.inbox(agent)
    open_thread(inbox, "My order arrived damaged.")

    sent = agent_api(inbox, "POST", "/api/v1/messages/", {
        "to": "+14155550133", "channel": "whatsapp", "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "Would you like a refund or a replacement?"},
                        "action": {"buttons": [{"id": "refund", "title": "Refund"}, {"id": "replace", "title": "Replacement"}]}},
    })
    assert sent["status"] == 202, sent

    offer = phone.locator(".bubble--theirs", has_text="Would you like a refund or a replacement?")
    expect(offer).to_be_visible(timeout=5000)
    offer.get_by_role("button", name="Replacement").click()

    reply = inbox.locator("#message-list .msg.in").last
    expect(reply).to_contain_text("Button reply", timeout=2000)
    expect(reply).to_contain_text("Replacement")
    expect(reply).to_contain_text("Payload: replace")
    message = Message.objects.get(direction="inbound", kind="button_reply")
    assert message.structured["button"]["id"] == "replace"
    assert message.reply_to.text == "Would you like a refund or a replacement?"
    # The phone quotes the message the customer answered.
    expect(phone.locator(".bubble--mine").last.locator(".bubble-quote")).to_contain_text("refund or a replacement")


def test_list_row_and_reply_context_reach_the_inbox(screens, agent):
    phone = screens.phone("+14155550134")
    customer_says(phone, "Can I book a fitting?")
    inbox = screens.inbox(agent)
    open_thread(inbox, "Can I book a fitting?")
    agent_api(inbox, "POST", "/api/v1/messages/", {
        "to": "+14155550134", "channel": "whatsapp", "type": "interactive",
        "interactive": {"type": "list", "body": {"text": "Pick a time"},
                        "action": {"buttons": [{"title": "Times"}],
                                   "sections": [{"title": "Saturday", "rows": [{"id": "sat-10", "title": "10:00"},
                                                                               {"id": "sat-14", "title": "14:00"}]}]}},
    })

    offer = phone.locator(".bubble--theirs", has_text="Pick a time")
    offer.locator(".bubble-action").click()  # the list's menu button opens its rows
    offer.get_by_role("button", name="14:00").click()
    expect(inbox.locator("#message-list .msg.in").last).to_contain_text("List reply", timeout=2000)
    expect(inbox.locator("#message-list .msg.in").last).to_contain_text("14:00")

    offer.hover()
    offer.get_by_role("button", name="Reply to this message").click()
    expect(phone.locator("#replying")).to_contain_text("Pick a time")
    customer_says(phone, "Actually, is Sunday possible?")
    expect(inbox.locator("#message-list .msg.in").last.locator(".msg-quote")).to_contain_text("Pick a time", timeout=2000)


def test_stop_blocks_further_sends_with_a_clear_message_until_start(screens, agent):
    phone = screens.phone("+14155550135", channel="sms")
    customer_says(phone, "When do you open?")
    inbox = screens.inbox(agent)
    open_thread(inbox, "When do you open?")

    phone.get_by_role("button", name="Send STOP").click()
    expect(phone.locator(".bubble--mine", has_text="STOP").locator(".bubble-webhook")).to_have_text("✓✓ Parley got it")
    expect(inbox.locator("#composer-notice")).to_contain_text("opted out of SMS", timeout=2000)
    expect(inbox.locator("#composer-text")).to_be_disabled()

    screens.expected_problems.append("status of 422")  # the refused send below
    refused = agent_api(inbox, "POST", "/api/v1/messages/", {"to": "+14155550135", "channel": "sms", "text": "One more offer!"})
    assert refused["status"] in (403, 409, 422), refused
    assert refused["body"]["error"]["code"] == "opted_out"
    assert "opted out" in refused["body"]["error"]["message"].lower()
    phone.wait_for_timeout(500)
    expect(phone.locator(".bubble--theirs")).to_have_count(0)  # nothing reached the customer

    phone.get_by_role("button", name="Send START").click()
    expect(inbox.locator("#composer-text")).to_be_enabled(timeout=2000)
    inbox.fill("#composer-text", "Welcome back! We open at 9.")
    inbox.keyboard.press("Enter")
    expect(phone.locator(".bubble--theirs", has_text="Welcome back! We open at 9.")).to_be_visible(timeout=5000)


@pytest.mark.parametrize("suffix,state,error_code,reason", [
    ("0000", "failed", "50", re.compile("not a valid|invalid", re.I)),
    ("1111", "undelivered", "80", re.compile("unreachable|temporarily", re.I)),
])
def test_special_numbers_that_fail_show_the_reason_on_both_sides(screens, agent, suffix, state, error_code, reason):
    number = f"+1415555{suffix}"
    inbox = screens.inbox(agent)
    sent = agent_api(inbox, "POST", "/api/v1/messages/", {"to": number, "channel": "sms", "text": "Your code is 4821"})
    assert sent["status"] == 202, sent
    phone = screens.phone(number, channel="sms")

    shown = phone.locator(".bubble--theirs", has_text="Your code is 4821")
    expect(shown).to_have_attribute("data-state", state, timeout=5000)
    expect(shown.locator(".bubble-state")).to_contain_text(f"error {error_code}")
    inbox.goto(f"{screens.server.url}/inbox/{sent['body']['conversation_id']}/")
    outgoing = inbox.locator("#message-list .msg.out").last
    expect(outgoing).to_have_attribute("data-status", state, timeout=5000)
    expect(outgoing.locator(".msg-error")).to_contain_text(reason)
    expect(outgoing.get_by_role("button", name="Retry")).to_be_visible()


@pytest.mark.parametrize("suffix,refusal", [("2222", 500), ("3333", 429)])
def test_special_numbers_that_refuse_once_are_retried_and_delivered(screens, agent, suffix, refusal):
    number = f"+1415555{suffix}"
    inbox = screens.inbox(agent)
    sent = agent_api(inbox, "POST", "/api/v1/messages/", {"to": number, "channel": "sms", "text": "Your table is ready"})
    phone = screens.phone(number, channel="sms")

    expect(phone.locator(".bubble--theirs", has_text="Your table is ready")).to_have_attribute(
        "data-state", "delivered", timeout=15000)
    attempts = list(SendAttempt.objects.filter(message_id=sent["body"]["id"]).order_by("number").values_list("http_status", flat=True))
    assert attempts == [refusal, 202]
    expect(phone.locator(".bubble--theirs")).to_have_count(1)  # the retry did not text the customer twice


def test_special_number_4444_never_confirms(screens, agent):
    inbox = screens.inbox(agent)
    sent = agent_api(inbox, "POST", "/api/v1/messages/", {"to": "+14155554444", "channel": "sms", "text": "Did this arrive?"})
    phone = screens.phone("+14155554444", channel="sms")

    shown = phone.locator(".bubble--theirs", has_text="Did this arrive?")
    expect(shown).to_have_attribute("data-state", "accepted")
    phone.wait_for_timeout(1500)  # past every report delay
    expect(shown).to_have_attribute("data-state", "accepted")
    inbox.goto(f"{screens.server.url}/inbox/{sent['body']['conversation_id']}/")
    outgoing = inbox.locator("#message-list .msg.out").last
    expect(outgoing.locator(".tick")).to_have_class(re.compile(r"\bclock\b"))
    assert Message.objects.get(pk=sent["body"]["id"]).status not in ("sent", "delivered", "read")


def test_hostile_text_on_the_phone_stays_inert(screens, agent):
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
    phone = screens.phone("+14155550136", name='<b onmouseover="window.__xss=1">Eve</b>')
    customer_says(phone, hostile)
    inbox = screens.inbox(agent)
    open_thread(inbox, "window.__xss=1")  # the worker applied it (the webhook's 200 only says it was received)
    assert Contact.objects.get(phone="+14155550136").display_name == '<b onmouseover="window.__xss=1">Eve</b>'
    agent_api(inbox, "POST", "/api/v1/messages/", {"to": "+14155550136", "channel": "whatsapp", "text": hostile,
                                                     "type": "text"})
    expect(phone.locator(".bubble--theirs .bubble-text")).to_have_text(hostile, timeout=5000)
    assert phone.locator(".phone-thread img, .phone-thread script, .phone-thread b").count() == 0


def test_a_number_that_cannot_exist_is_refused_where_it_was_typed(screens):
    screens.expected_problems.append("status of 400")
    phone = screens.phone("+1 555")

    expect(phone.locator("#open-error")).to_contain_text("number")
    expect(phone.locator("#phone-chat")).to_be_hidden()
