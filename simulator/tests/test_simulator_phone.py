"""The customer phone page: what the customer does reaches Parley as a signed Plivo inbound
webhook (through the real webhook view), and what Parley sent shows up on the phone."""

import json
import re
import threading
import time

import pytest
from django.test import Client
from plivo import exceptions as plivo_exceptions
from plivo.utils import validate_v3_signature
from plivo.utils.interactive import Interactive
from plivo.utils.template import Template

from conversations.models import Contact, Message, MessageTemplate
from conversations.tests.support import wait_for
from simulator import services
from webhooks.models import WebhookReceipt
from webhooks.signing import V3_NONCE, V3_SIGNATURE, sign_v3

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "+14155550123"


def inbound(text=None, **filters):
    """The customer's message once Parley's webhook worker has applied it (None: not within 5 s)."""
    messages = Message.objects.filter(direction="inbound", conversation__contact__phone=CUSTOMER, **filters)
    if text is not None:
        messages = messages.filter(text=text)
    return wait_for(lambda: messages.select_related("conversation", "conversation__contact").first())


def business_send(sdk, live_app, **kwargs):
    kwargs.setdefault("src", "+14155550100")
    kwargs.setdefault("dst", CUSTOMER)
    kwargs.setdefault("type_", "whatsapp")
    kwargs.setdefault("url", f"{live_app.url}/webhooks/plivo/status/")
    [uuid] = sdk.messages.create(**kwargs).message_uuid
    return uuid


# --- customer -> Parley ----------------------------------------------------------------------
def test_customer_whatsapp_text_arrives_in_parley_with_the_profile_name(phone):
    response = phone.send(phone="(415) 555-0123", channel="whatsapp", text="Where is my order?", profile_name="Dana Scully")

    assert response.status_code == 201
    sent = response.json()["message"]
    assert sent["webhook"] == {"status": 200, "error": ""}
    message = inbound("Where is my order?")
    assert message.plivo_message_uuid == sent["id"]
    assert message.conversation.channel == "whatsapp"
    assert message.kind == "text"
    assert message.conversation.contact.display_name == "Dana Scully"


def test_customer_image_arrives_as_whatsapp_media_with_its_caption(phone):
    phone.send(phone=CUSTOMER, channel="whatsapp", text="The box arrived like this",
               media_url="https://example.com/photos/box.png")

    message = inbound("The box arrived like this")
    assert message.kind == "media"
    # Kept as a download of Plivo's URL; the thread shows Parley's copy once stored.
    [item] = message.media
    assert (item["url"], item["content_type"], item["state"]) == ("", "image/png", "pending")
    assert message.media_files.get().source_url == "https://example.com/photos/box.png"


def test_customer_image_on_sms_arrives_as_mms(phone):
    phone.send(phone=CUSTOMER, channel="sms", media_url="https://example.com/receipt.jpg")

    message = inbound(kind="media")
    assert message.conversation.channel == "sms"
    assert message.media_files.get().source_url == "https://example.com/receipt.jpg"


def test_reply_to_a_business_message_carries_its_context(phone, sdk, live_app):
    uuid = business_send(sdk, live_app, text="Your parcel is at the depot.")

    phone.send(phone=CUSTOMER, channel="whatsapp", text="Can I pick it up?", reply_to=uuid)

    assert inbound("Can I pick it up?").reply_to_plivo_uuid == uuid


def test_tapping_an_interactive_button_is_a_button_reply(phone, sdk, live_app):
    uuid = business_send(sdk, live_app, interactive=Interactive(
        type="button", body={"text": "Did that solve it?"},
        action={"buttons": [{"id": "solved", "title": "Yes, thanks"}, {"id": "not-solved", "title": "No"}]}))
    [shown] = phone.thread(CUSTOMER)["messages"]
    assert [b["title"] for b in shown["interactive"]["buttons"]] == ["Yes, thanks", "No"]

    phone.send(phone=CUSTOMER, channel="whatsapp", reply_to=uuid, button={"id": "solved", "title": "Yes, thanks"})

    message = inbound(kind="button_reply")
    assert message.structured["button"] == {"id": "solved", "text": "Yes, thanks"}
    assert message.reply_to_plivo_uuid == uuid


def test_choosing_a_list_row_is_a_list_reply(phone, sdk, live_app):
    uuid = business_send(sdk, live_app, interactive=Interactive(
        type="list", body={"text": "Pick a delivery slot"},
        action={"buttons": [{"title": "Slots"}], "sections": [
            {"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning", "description": "9 to 12"},
                                           {"id": "pm", "title": "Afternoon"}]}]}))

    phone.send(phone=CUSTOMER, channel="whatsapp", reply_to=uuid,
               list_row={"id": "am", "title": "Morning", "description": "9 to 12"})

    message = inbound(kind="list_reply")
    assert message.structured["list_reply"] == {"id": "am", "title": "Morning", "description": "9 to 12"}


def test_template_quick_reply_sends_the_buttons_payload_and_the_phone_shows_the_rendered_template(phone, sdk, live_app):
    MessageTemplate.objects.create(
        name="follow_up", language="en_US", category="UTILITY", status="APPROVED",
        body="Hi {{1}}, anything else we can help with?",
        buttons=[{"type": "quick_reply", "text": "Yes, please"}, {"type": "quick_reply", "text": "No, thanks"}])
    uuid = business_send(sdk, live_app, template=Template(name="follow_up", language="en_US", components=[
        {"type": "body", "parameters": [{"type": "text", "text": "Dana"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "FOLLOW_UP_NO"}]},
    ]))

    [shown] = phone.thread(CUSTOMER)["messages"]
    assert shown["template"]["text"] == "Hi Dana, anything else we can help with?"
    no_button = shown["template"]["buttons"][1]
    assert no_button == {"type": "quick_reply", "title": "No, thanks", "id": "FOLLOW_UP_NO"}

    phone.send(phone=CUSTOMER, channel="whatsapp", reply_to=uuid, button={"id": no_button["id"], "title": no_button["title"]})

    message = inbound(kind="button_reply")
    assert message.structured["button"] == {"text": "No, thanks", "payload": "FOLLOW_UP_NO"}


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_stop_then_start_from_the_phone_opts_the_contact_out_and_back_in(phone, channel):
    # The webhook worker applies each receipt after Parley has answered the phone.
    phone.send(phone=CUSTOMER, channel=channel, text="STOP")
    assert wait_for(lambda: not WebhookReceipt.objects.pending().exists())
    contact = Contact.objects.get(phone=CUSTOMER)
    assert contact.is_opted_out(channel)

    phone.send(phone=CUSTOMER, channel=channel, text="START")
    assert wait_for(lambda: not WebhookReceipt.objects.pending().exists())
    contact.refresh_from_db()
    assert not contact.is_opted_out(channel)
    assert list(Message.objects.filter(conversation__contact=contact).values_list("text", flat=True)) == ["STOP", "START"]


def test_the_phone_signs_exactly_as_plivo_does(settings):
    message = services.customer_message_build(phone=CUSTOMER, channel="sms", text="STOP")
    params = services.customer_webhook_params(message)
    url = "https://parley.example.com/webhooks/plivo/message/"
    headers = sign_v3(url=url, params=params, auth_token=settings.PLIVO_AUTH_TOKEN)

    def valid(sent_params):
        return validate_v3_signature("POST", url, headers[V3_NONCE], settings.PLIVO_AUTH_TOKEN, headers[V3_SIGNATURE], sent_params)

    assert params["From"] == "14155550123" and params["To"] == "14155550199"
    assert params["MessageIntent"] == "optout"
    assert valid(params)
    assert not valid({**params, "Text": "START"})


def test_unreachable_parley_is_reported_on_the_phone_not_hidden(phone, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # the discard port: nothing listens

    response = phone.send(phone=CUSTOMER, channel="whatsapp", text="Hello?")

    assert response.status_code == 202
    assert response.json()["message"]["webhook"]["status"] == 0
    assert "could not be reached" in response.json()["message"]["webhook"]["error"]
    [shown] = phone.thread(CUSTOMER)["messages"]
    assert shown["webhook"]["status"] == 0


def test_a_refused_webhook_shows_parleys_answer(phone, settings, monkeypatch):
    # Plivo calls a URL other than PUBLIC_BASE_URL (a misconfigured host): the signature
    # covers the URL called, so Parley refuses it, and the phone says so.
    other_host = settings.PUBLIC_BASE_URL.replace("localhost", "127.0.0.1") + "/webhooks/plivo/message/"
    monkeypatch.setattr(services, "inbound_webhook_url", lambda: other_host)

    sent = phone.send(phone=CUSTOMER, channel="whatsapp", text="Hello?").json()["message"]

    assert sent["webhook"]["status"] == 403
    assert sent["webhook"]["error"].startswith("Parley answered 403")
    # Refused before anything was stored, and answered before the phone's send returned.
    assert not WebhookReceipt.objects.exists() and not Message.objects.exists()


# --- input checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("body,field", [
    ({"phone": "12", "channel": "whatsapp", "text": "hi"}, "phone"),
    ({"phone": "+14155550100", "channel": "whatsapp", "text": "hi"}, "phone"),  # Parley's own number
    ({"phone": CUSTOMER, "channel": "telegram", "text": "hi"}, "channel"),
    ({"phone": CUSTOMER, "channel": "whatsapp", "text": "   "}, "text"),
    ({"phone": CUSTOMER, "channel": "sms", "text": "x" * 1601}, "text"),
    ({"phone": CUSTOMER, "channel": "whatsapp", "media_url": "javascript:alert(1)"}, "media_url"),
    ({"phone": CUSTOMER, "channel": "sms", "button": {"id": "a", "title": "A"}, "reply_to": "0" * 36}, "button"),
    ({"phone": CUSTOMER, "channel": "whatsapp", "button": {"id": "a", "title": "A"}}, "reply_to"),
])
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_sent(sim_api, body, field):
    response = Client().post("/simulator/phone/send/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field and error["message"]
    assert services.customer_log.by_phone == {}


def test_phone_send_requires_the_csrf_token(sim_api):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/simulator/phone/send/", data=json.dumps({"phone": CUSTOMER, "channel": "sms", "text": "hi"}),
                           content_type="application/json")

    assert response.status_code == 403
    assert services.customer_log.by_phone == {}


# --- Parley -> customer ----------------------------------------------------------------------
def test_the_phone_shows_parleys_message_with_its_delivery_state(phone, sdk, live_app, sim_api):
    uuid = business_send(sdk, live_app, text="Hello from the shop", type_="sms", src="+14155550199")

    assert phone.thread(CUSTOMER, "whatsapp")["messages"] == []
    assert wait_for(lambda: phone.thread(CUSTOMER, "sms")["messages"][0]["state"] == "delivered")
    [shown] = phone.thread(CUSTOMER, "sms")["messages"]
    assert shown["id"] == uuid and shown["text"] == "Hello from the shop" and shown["from"] == "business"
    assert shown["reports"] == ["queued", "sent", "delivered"]


@pytest.mark.parametrize("suffix,state,error_code,reason", [
    ("0000", "failed", "50", "invalid destination number"),
    ("1111", "undelivered", "80", "destination temporarily unavailable"),
])
def test_special_numbers_fail_as_documented(phone, sdk, live_app, suffix, state, error_code, reason):
    number = f"+1415555{suffix}"
    business_send(sdk, live_app, dst=number, text="Your code is 1234")

    assert wait_for(lambda: phone.thread(number)["messages"][0]["state"] == state)
    [shown] = phone.thread(number)["messages"]
    assert (shown["error_code"], shown["error"]) == (error_code, reason)


@pytest.mark.parametrize("suffix,error", [("2222", plivo_exceptions.PlivoServerError), ("3333", plivo_exceptions.PlivoRestError)])
def test_special_numbers_refuse_the_first_send_then_accept_the_retry(sdk, live_app, sim_api, suffix, error):
    with pytest.raises(error):
        business_send(sdk, live_app, dst=f"+1415555{suffix}", text="hi")
    uuid = business_send(sdk, live_app, dst=f"+1415555{suffix}", text="hi")
    assert wait_for(lambda: sim_api.messages[uuid].reports[-1:] == ["delivered"])


def test_special_number_4444_never_hears_back(phone, sdk, live_app, sim_api):
    uuid = business_send(sdk, live_app, dst="+14155554444", text="hi")

    time.sleep(0.5)  # well past every report delay
    [shown] = phone.thread("+14155554444")["messages"]
    assert (shown["id"], shown["state"], shown["reports"]) == (uuid, "accepted", [])


def test_waiting_thread_answers_as_soon_as_something_changes(phone, sdk, live_app):
    etag = phone.thread(CUSTOMER)["etag"]
    answers = []
    waiter = threading.Thread(target=lambda: answers.append((phone.thread(CUSTOMER, since=etag), time.monotonic())))
    waiter.start()
    time.sleep(0.3)
    assert answers == []  # nothing changed yet: still waiting

    sent_at = time.monotonic()
    business_send(sdk, live_app, text="Any news?")
    waiter.join(timeout=5)

    [(snapshot, answered_at)] = answers
    assert snapshot["etag"] != etag
    assert snapshot["messages"][0]["text"] == "Any news?"
    assert answered_at - sent_at < 1.0


# --- the page --------------------------------------------------------------------------------
def test_page_lists_demo_contacts_escaped_and_has_no_inline_script(sim_api):
    from conversations.models import Conversation

    contact = Contact.objects.create(phone=CUSTOMER, display_name='<script>alert("x")</script>')
    Conversation.objects.create(contact=contact, channel="whatsapp")

    response = Client().get("/simulator/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert "style=" not in html and "<style" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    for suffix in ("0000", "1111", "2222", "3333", "4444"):
        assert f"+1415555{suffix}" in html


def test_the_phone_shows_locations_and_link_buttons(phone, sdk, live_app):
    from plivo.utils.location import Location

    business_send(sdk, live_app, location=Location(latitude="37.7793", longitude="-122.4193", name="Parley shop",
                                                   address="1 Market St"))
    business_send(sdk, live_app, interactive=Interactive(
        type="cta_url", body={"text": "Track your parcel"},
        action={"buttons": [{"title": "Track", "cta_url": "https://example.com/track/42"}]}))

    location, link = phone.thread(CUSTOMER)["messages"]
    assert location["kind"] == "location"
    assert location["location"] == {"latitude": "37.7793", "longitude": "-122.4193", "name": "Parley shop", "address": "1 Market St"}
    assert link["interactive"]["buttons"] == [{"id": "", "title": "Track", "cta_url": "https://example.com/track/42"}]


def test_a_picked_file_is_kept_by_the_fake_plivo_without_extension(phone):
    import base64

    from conversations.tests.media_support import PNG

    phone.send(phone=CUSTOMER, channel="whatsapp", text="photo attached",
               media_file={"name": "box.png", "content_type": "image/png", "data": base64.b64encode(PNG).decode()})
    message = inbound("photo attached")
    url = message.media_files.get().source_url
    assert re.search(r"/Account/[^/]+/Message/[^/]+/Media/[0-9a-f]+$", url)
    media = services.simulator_api().media.get(url.rsplit("/", 1)[1])
    assert (media.data, media.content_type) == (PNG, "image/png")
