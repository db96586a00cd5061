"""Attachments from the agent's computer in real Chromium: picked, shown before sending with name,
size and thumbnail, refused before upload when the channel cannot carry them, and shown in the
thread from Parley's own authenticated media view."""

import re

import pytest

from django.core.files.base import ContentFile
from django.utils import timezone

from conversations.models import MediaFile, Message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from conversations.tests.media_support import MB, PNG, jpeg
from conversations.tests.test_composer_browser import open_thread
from conversations.tests.test_inbox_browser import whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_attaches_a_picture_sees_it_before_sending_and_sends_it(pages, server, agent):
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    page.set_input_files("#attach-file-input", files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}])
    chip = page.locator("#attachment-tray .attachment")
    expect(chip).to_have_attribute("data-status", "ready")
    expect(chip.locator(".attachment-name")).to_have_text("receipt.png")
    expect(chip.locator(".attachment-size")).to_have_text("1 KB")
    expect(chip.locator("img.attachment-thumb")).to_have_attribute("src", re.compile(r"^blob:"))
    page.fill("#composer-text", "Here is your receipt")
    page.keyboard.press("Enter")

    sent = page.locator("#message-list .msg.out", has_text="Here is your receipt")
    media = MediaFile.objects.get()
    expect(sent.locator(".msg-media img")).to_have_attribute("src", f"{server.url}/inbox/media/{media.pk}/")
    expect(page.locator("#attachment-tray")).to_be_hidden()
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=sent.locator(".msg-media img").element_handle())
    message = Message.objects.get(direction="outbound")
    media.refresh_from_db()
    assert (message.kind, message.text, media.message_id) == ("media", "Here is your receipt", message.pk)


def test_an_uploaded_file_stays_in_the_tray_after_a_reload_and_goes_with_the_message(pages, server, agent):
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    page.set_input_files("#attach-file-input", files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}])
    expect(page.locator("#attachment-tray .attachment")).to_have_attribute("data-status", "ready")
    media = MediaFile.objects.get()

    page.reload()
    expect(page.locator("#message-list")).to_contain_text("Hi, where is my order?")
    chip = page.locator("#attachment-tray .attachment")
    expect(chip).to_have_attribute("data-status", "ready")
    expect(chip.locator(".attachment-name")).to_have_text("receipt.png")
    expect(chip.locator(".attachment-size")).to_have_text("1 KB")
    thumb = chip.locator("img.attachment-thumb")  # no longer the picked file: Parley's copy
    expect(thumb).to_have_attribute("src", f"/inbox/media/{media.pk}/")
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=thumb.element_handle())

    page.fill("#composer-text", "As promised")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out", has_text="As promised").locator(".msg-media img")).to_be_visible()
    expect(page.locator("#attachment-tray")).to_be_hidden()
    media.refresh_from_db()
    assert media.message_id == Message.objects.get(direction="outbound").pk
    page.reload()  # sent: nothing comes back
    expect(page.locator("#message-list")).to_contain_text("As promised")
    expect(page.locator("#attachment-tray")).to_be_hidden()


def test_a_picture_too_large_for_whatsapp_is_refused_before_it_is_uploaded(pages, server, agent):
    conversation = whatsapp_conversation()
    page = open_thread(pages, agent, conversation)
    page.set_input_files("#attach-file-input", files=[{"name": "holiday.jpg", "mimeType": "image/jpeg", "buffer": jpeg(6 * MB)}], timeout=30_000)
    chip = page.locator("#attachment-tray .attachment")
    expect(chip).to_have_attribute("data-status", "refused")
    expect(chip.locator(".attachment-error")).to_have_text("holiday.jpg is 6 MB; WhatsApp takes images up to 5 MB.")
    page.fill("#composer-text", "Sorry, only text then")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list .msg.out", has_text="Sorry, only text then")).to_have_attribute("data-id", re.compile(r"\d+"))
    assert not MediaFile.objects.exists()
    assert Message.objects.get(direction="outbound").kind == "text"
    chip.get_by_role("button", name="Remove holiday.jpg").click()
    expect(page.locator("#attachment-tray")).to_be_hidden()


def test_a_customers_picture_is_shown_from_parley_and_an_outside_link_is_only_a_link(pages, server, agent, settings):
    settings.MEDIA_ROOT = server.media_root  # the file is written where the server reads
    conversation = whatsapp_conversation()
    media = MediaFile(direction="inbound", state="stored", content_type="image/png", size=len(PNG), name="image-1-1.png",
                      source_url="https://media.plivo.com/Account/MA/Message/u/Media/m")
    media.file.save("inbound/test.png", ContentFile(PNG))
    MessageFactory(conversation=conversation, kind="media", text="look", media=[media.as_media_item()])
    MessageFactory(conversation=conversation, kind="media", text="elsewhere",
                   media=[{"url": "https://tracker.example/pixel.png", "content_type": "image/png"}])
    MessageFactory(conversation=conversation, kind="media", text="still coming",
                   media=[{"url": "", "content_type": "image/jpeg", "attachment_id": 999, "state": "pending"}])
    page = open_thread(pages, agent, conversation)
    items = page.locator("#message-list .msg")
    expect(items.nth(1).locator(".msg-media img")).to_have_attribute("src", f"{server.url}/inbox/media/{media.pk}/")
    expect(items.nth(2).locator(".msg-media a.file")).to_have_text("Open image link (tracker.example)")
    assert items.nth(2).locator("img").count() == 0  # the customer's host learns nothing from the agent opening it
    expect(items.nth(3).locator(".msg-placeholder")).to_have_text("Receiving the picture…")


DATA_TRANSFER = """([kind, name, type, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
  const target = document.getElementById(kind === "paste" ? "composer-text" : "composer");
  const event = kind === "paste" ? new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true })
                                 : new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
}"""


def test_a_pasted_image_and_a_dropped_file_join_the_tray(pages, server, agent):
    # MMS: several files in one message (WhatsApp takes one).
    conversation = ConversationFactory(contact=ContactFactory(phone="+14155550195"), channel="sms",
                                       last_inbound_at=timezone.now())
    MessageFactory(conversation=conversation, text="Hi, where is my order?")
    page = open_thread(pages, agent, conversation)
    page.evaluate(DATA_TRANSFER, ["paste", "screenshot.png", "image/png", list(PNG)])
    page.evaluate(DATA_TRANSFER, ["drop", "invoice.pdf", "application/pdf", list(b"%PDF-1.4\n%%EOF\n")])
    chips = page.locator("#attachment-tray .attachment")
    expect(chips).to_have_count(2)
    expect(chips.nth(0).locator(".attachment-name")).to_have_text("screenshot.png")
    expect(chips.nth(1).locator(".attachment-name")).to_have_text("invoice.pdf")
    expect(chips.nth(0)).to_have_attribute("data-status", "ready")
    expect(chips.nth(1)).to_have_attribute("data-status", "ready")
    page.click("#send")
    expect(page.locator("#message-list .msg.out .msg-media")).to_have_count(2)
    expect(page.locator("#message-list .msg.out a.file")).to_contain_text("invoice.pdf")
    assert sorted(MediaFile.objects.values_list("content_type", flat=True)) == ["application/pdf", "image/png"]
