"""Every message kind reaches Plivo's API (through the real SDK, over HTTP) exactly as Plivo expects."""

import pytest

from conversations.models import MessageStatus
from conversations.outbound import message_send
from conversations.tests.factories import MessageTemplateFactory
from conversations.tests.outbound_support import drain, open_conversation, reload

pytestmark = pytest.mark.django_db

WA = "+14155550100"
SMS = "+14155550199"


@pytest.fixture
def conversation():
    return open_conversation(phone="+14155550123")


def sent_body(fake_plivo, message):
    drain()
    [request] = fake_plivo.sends()
    assert request.status == 202
    assert reload(message).status == MessageStatus.SENDING
    return request.body


def base(message, *, src=WA, type_="whatsapp"):
    return {
        "dst": "+14155550123",
        "src": src,
        "type": type_,
        "url": f"http://127.0.0.1:8000/webhooks/plivo/status/?ref={message.pk}",
        "method": "POST",
        "log": "true",
        "trackable": False,
    }


def test_whatsapp_text_wire_payload(fake_plivo, conversation, agent):
    message, created = message_send(conversation=conversation, kind="text", text="Hello 👋", sent_by=agent)
    assert created and message.status == MessageStatus.QUEUED
    assert sent_body(fake_plivo, message) == {**base(message), "text": "Hello 👋"}


def test_whatsapp_media_with_caption_wire_payload(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="media", text="Your invoice",
                              media_urls=["https://cdn.example.com/invoice.pdf"])
    assert message.media == [{"url": "https://cdn.example.com/invoice.pdf", "content_type": "application/pdf"}]
    assert sent_body(fake_plivo, message) == {
        **base(message), "text": "Your invoice", "media_urls": ["https://cdn.example.com/invoice.pdf"]}


def test_template_with_text_header_body_and_url_button_wire_payload(fake_plivo):
    conversation = open_conversation(phone="+14155550123", last_inbound_at=None)
    MessageTemplateFactory(
        name="order_shipped", language="en_US", header_type="text", header_text="Order {{1}}",
        body="Hi {{1}}, order {{2}} ships today.", footer="Parley Shop",
        buttons=[{"type": "url", "text": "Track", "url": "https://shop.example.com/t/{{1}}"},
                 {"type": "quick_reply", "text": "Stop updates"}],
    )
    message, _ = message_send(conversation=conversation, kind="template", template={
        "name": "order_shipped", "language": "en_US",
        "parameters": {"header": ["A-17"], "body": ["Ada", "A-17"], "buttons": {"0": ["A17"]}},
    })
    assert message.text == "Order A-17\n\nHi Ada, order A-17 ships today.\n\nParley Shop"
    expected_template = {
        "name": "order_shipped",
        "language": "en_US",
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-17"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "A-17"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A17"}]},
        ],
    }
    assert message.structured["template"] == expected_template
    assert sent_body(fake_plivo, message) == {**base(message), "template": expected_template}


def test_template_with_media_header_wire_payload(fake_plivo, conversation):
    MessageTemplateFactory(name="receipt", language="en", header_type="document", body="Your receipt, {{1}}.")
    message, _ = message_send(conversation=conversation, kind="template", template={
        "name": "receipt", "language": "en",
        "parameters": {"header": ["https://cdn.example.com/r.pdf"], "body": ["Ada"]},
    })
    assert sent_body(fake_plivo, message)["template"] == {
        "name": "receipt",
        "language": "en",
        "components": [
            {"type": "header", "parameters": [{"type": "media", "media": "https://cdn.example.com/r.pdf"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]},
        ],
    }


def test_quick_reply_buttons_wire_payload(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="interactive", interactive={
        "type": "button",
        "header": {"type": "text", "text": "Delivery"},
        "body": {"text": "When should we come?"},
        "footer": {"text": "Reply with a button"},
        "action": {"buttons": [{"id": "am", "title": "Morning"}, {"id": "pm", "title": "Afternoon"}]},
    })
    assert message.text == "When should we come?"
    assert sent_body(fake_plivo, message) == {**base(message), "interactive": {
        "type": "button",
        "header": {"type": "text", "text": "Delivery"},
        "body": {"text": "When should we come?"},
        "footer": {"text": "Reply with a button"},
        "action": {"buttons": [{"id": "am", "title": "Morning"}, {"id": "pm", "title": "Afternoon"}]},
    }}


def test_list_wire_payload_sends_null_for_unset_sections(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="interactive", interactive={
        "type": "list",
        "body": {"text": "Pick a size"},
        "action": {"buttons": [{"title": "Sizes"}], "sections": [{"title": "Sizes", "rows": [
            {"id": "s", "title": "Small", "description": "Fits 1"}, {"id": "l", "title": "Large"}]}]},
    })
    assert sent_body(fake_plivo, message)["interactive"] == {
        "type": "list",
        "header": None,  # the SDK serialises unset sections as null
        "body": {"text": "Pick a size"},
        "footer": None,
        # The list's button label, which WhatsApp requires, goes out as Plivo's action.buttons[0].title.
        "action": {"buttons": [{"title": "Sizes"}], "sections": [{"title": "Sizes", "rows": [
            {"id": "s", "title": "Small", "description": "Fits 1"}, {"id": "l", "title": "Large"}]}]},
    }


def test_a_list_needs_its_button_label(conversation):
    from messaging_site.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        message_send(conversation=conversation, kind="interactive", interactive={
            "type": "list", "body": {"text": "Pick a size"},
            "action": {"sections": [{"rows": [{"id": "s", "title": "Small"}]}]}})
    assert refused.value.field == "interactive.action.buttons.0.title"


def test_cta_url_wire_payload(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="interactive", interactive={
        "type": "cta_url", "body": {"text": "Track your parcel"},
        "action": {"buttons": [{"title": "Track", "cta_url": "https://shop.example.com/t/1"}]},
    })
    assert sent_body(fake_plivo, message)["interactive"]["action"] == {
        "buttons": [{"title": "Track", "cta_url": "https://shop.example.com/t/1"}]}


def test_location_wire_payload_uses_strings(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="location", location={
        "latitude": 37.7749, "longitude": "-122.4194", "name": "Parley HQ", "address": "1 Market St"})
    assert message.text == "Parley HQ"
    assert sent_body(fake_plivo, message) == {**base(message), "location": {
        "latitude": "37.7749", "longitude": "-122.4194", "name": "Parley HQ", "address": "1 Market St"}}


def test_sms_text_wire_payload(fake_plivo):
    conversation = open_conversation(channel="sms", phone="+14155550123", last_inbound_at=None)
    message, _ = message_send(conversation=conversation, kind="text", text="Your code is 1234")
    assert sent_body(fake_plivo, message) == {**base(message, src=SMS, type_="sms"), "text": "Your code is 1234"}


def test_sms_media_goes_out_as_mms(fake_plivo):
    conversation = open_conversation(channel="sms", phone="+14155550123")
    message, _ = message_send(conversation=conversation, kind="media", media_urls=[
        "https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"])
    assert sent_body(fake_plivo, message) == {**base(message, src=SMS, type_="mms"),
                                              "media_urls": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"]}


def test_send_to_a_new_number_creates_contact_and_conversation(fake_plivo, agent):
    message, _ = message_send(to="(415) 555-0123", channel="sms", kind="text", text="Hi", sent_by=agent)
    assert message.conversation.contact.phone == "+14155550123"
    assert message.conversation.channel == "sms"
    assert message.conversation.last_message_id == message.pk
    assert sent_body(fake_plivo, message)["dst"] == "+14155550123"


def test_accepted_send_stores_plivo_uuid_and_attempt(fake_plivo, conversation):
    message, _ = message_send(conversation=conversation, kind="text", text="Hi")
    drain()
    [accepted] = fake_plivo.accepted
    message = reload(message)
    assert message.plivo_message_uuid == accepted.uuid
    assert message.status == MessageStatus.SENDING and message.unconfirmed_since is None
    assert message.outbound_job.state == "accepted"
    [attempt] = message.send_attempts.all()
    assert (attempt.number, attempt.outcome, attempt.http_status) == (1, "accepted", 202)
