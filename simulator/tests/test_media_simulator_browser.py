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
    assert inbox.evaluate("(img) => img.complete && img.naturalWidth", picture.element_handle()) == 1
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
