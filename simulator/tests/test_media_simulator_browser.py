"""Media end to end with the simulator, as `make run` serves it: the customer's phone sends a
picture (kept by the fake Plivo behind basic auth, at a URL without extension), Parley downloads
it in the background and the inbox shows it as an image; an agent's file reaches the phone
through Plivo's Media API."""

import re

import pytest

from conversations.models import MediaFile, Message
from conversations.tests.media_support import PNG
from simulator.tests.test_simulator_browser import customer_says, open_thread, screens, server  # noqa: F401 (fixtures)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customers_picture_without_extension_is_shown_as_an_image(screens, agent):
    phone = screens.phone("+14155550161", name="Fox Mulder")
    customer_says(phone, "Hello, the parcel looks like this")
    inbox = screens.inbox(agent)
    open_thread(inbox, "the parcel looks like this")

    phone.click("#attach")
    phone.set_input_files("#media-file", files=[{"name": "parcel", "mimeType": "application/octet-stream", "buffer": PNG}])
    phone.get_by_role("textbox", name="Message", exact=True).fill("see the dent")
    phone.keyboard.press("Enter")
    expect(phone.locator(".bubble--mine", has_text="see the dent").locator(".bubble-webhook")).to_have_text("✓✓ Parley got it")

    picture = inbox.locator("#message-list .msg.in", has_text="see the dent").locator(".msg-media img")
    expect(picture).to_have_attribute("src", re.compile(r"/inbox/media/\d+/$"), timeout=8000)
    # Decoded as the 1x1 PNG it is (the src is set before the browser has fetched it).
    inbox.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=picture.element_handle())
    media = MediaFile.objects.get(direction="inbound")
    assert (media.state, media.content_type) == ("stored", "image/png")
    assert "/Media/" in media.source_url and "." not in media.source_url.rsplit("/", 1)[1]


def test_an_agents_file_reaches_the_phone_through_the_media_api(screens, agent):
    phone = screens.phone("+14155550162")
    customer_says(phone, "Can you send me the invoice?")
    inbox = screens.inbox(agent)
    open_thread(inbox, "Can you send me the invoice?")
    inbox.set_input_files("#attach-file-input", files=[{"name": "invoice.png", "mimeType": "image/png", "buffer": PNG}])
    expect(inbox.locator("#attachment-tray .attachment")).to_have_attribute("data-status", "ready")
    inbox.fill("#composer-text", "Here it is")
    inbox.keyboard.press("Enter")

    arrived = phone.locator(".bubble--theirs", has_text="Here it is")
    expect(arrived.locator("img")).to_have_attribute("src", re.compile(r"/simulator/phone/media/[0-9a-f]+/$"), timeout=8000)
    outgoing = inbox.locator("#message-list .msg.out", has_text="Here it is")
    expect(outgoing).to_have_attribute("data-status", re.compile(r"delivered|read"), timeout=8000)
    assert MediaFile.objects.get(direction="outbound").plivo_media_id
    assert Message.objects.get(direction="outbound").media[0]["attachment_id"]


def test_an_interactive_list_from_the_composer_round_trips_with_the_phone(screens, agent):
    phone = screens.phone("+14155550163")
    customer_says(phone, "When can you deliver?")
    inbox = screens.inbox(agent)
    open_thread(inbox, "When can you deliver?")

    inbox.click("#open-interactive")
    expect(inbox.locator("#interactive-dialog")).to_be_visible()
    inbox.select_option("#interactive-type", "list")
    inbox.fill("#interactive-body", "Pick a delivery slot")
    inbox.get_by_label("List button label (required)").fill("Slots")
    inbox.get_by_label("Section title (optional)").fill("Monday")
    inbox.get_by_label("Row 1.1", exact=True).fill("Morning")
    inbox.get_by_label("Row 1.1 description").fill("8:00 to 12:00")
    inbox.get_by_role("button", name="+ Row").click()
    inbox.get_by_label("Row 1.2", exact=True).fill("Afternoon")
    preview = inbox.locator("#interactive-preview")
    expect(preview).to_contain_text("Pick a delivery slot")
    expect(preview.locator(".msg-buttons")).to_have_text("☰ Slots")
    expect(preview).to_contain_text("Morning — 8:00 to 12:00")
    inbox.click("#interactive-send")
    expect(inbox.locator("#interactive-dialog")).to_be_hidden()

    offer = phone.locator(".bubble--theirs", has_text="Pick a delivery slot")
    expect(offer).to_be_visible(timeout=5000)
    expect(offer.locator(".bubble-action")).to_contain_text("Slots")  # the label WhatsApp requires reached Plivo
    offer.locator(".bubble-action").click()
    offer.get_by_role("button", name="Afternoon").click()
    reply = inbox.locator("#message-list .msg.in").last
    expect(reply).to_contain_text("List reply", timeout=3000)
    expect(reply).to_contain_text("Afternoon")
    sent = Message.objects.get(direction="outbound", kind="interactive")
    assert sent.structured["interactive"]["action"]["buttons"] == [{"title": "Slots"}]


def test_reply_buttons_over_the_limit_cannot_be_added(screens, agent):
    phone = screens.phone("+14155550164")
    customer_says(phone, "Quick question")
    inbox = screens.inbox(agent)
    open_thread(inbox, "Quick question")
    inbox.click("#open-interactive")
    inbox.fill("#interactive-body", "Yes or no?")
    for n in (1, 2):
        inbox.get_by_label(f"Button {n}", exact=True).fill(f"Choice {n}")
        inbox.get_by_role("button", name="+ Button").click()
    inbox.get_by_label("Button 3", exact=True).fill("Choice 3")
    expect(inbox.get_by_role("button", name="+ Button")).to_have_count(0)  # WhatsApp takes 3
    expect(inbox.get_by_label("Button 1", exact=True)).to_have_attribute("maxlength", "20")
    inbox.get_by_label("Button 2", exact=True).fill("Choice 1")  # two buttons alike
    screens.expected_problems.append("status of 422")  # Chromium logs the refused request
    inbox.click("#interactive-send")
    expect(inbox.locator("#interactive-error")).to_contain_text("Button ids must be unique")
    inbox.get_by_label("Button 2", exact=True).fill("Choice 2")
    inbox.click("#interactive-send")
    expect(phone.locator(".bubble--theirs", has_text="Yes or no?")).to_be_visible(timeout=5000)
