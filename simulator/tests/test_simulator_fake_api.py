"""The fake Plivo API as the simulator mounts it in Django: the real SDK talks to it over HTTP,
and its delivery reports reach Parley's own status webhook, signed."""

import base64
import json
import time

import plivo
import pytest
import requests
from django.test import Client
from plivo import exceptions as plivo_exceptions

from conversations.models import MessageStatusEvent
from conversations.tests.support import wait_for


pytestmark = pytest.mark.django_db(transaction=True)


def test_sdk_send_through_the_mounted_fake_is_accepted_and_can_be_fetched(sdk, sim_api):
    response = sdk.messages.create(src="+14155550100", dst="+14155550123", text="Your order shipped", type_="whatsapp")

    [uuid] = response.message_uuid
    assert sim_api.messages[uuid].body["text"] == "Your order shipped"
    fetched = sdk.messages.get(uuid)
    assert fetched.message_uuid == uuid
    assert fetched.message_type == "whatsapp"


def test_mounted_fake_refuses_a_wrong_token_and_stores_nothing(live_app, settings, sim_api, monkeypatch):
    monkeypatch.setattr("plivo.rest.client.PLIVO_API_BASE_URI", live_app.url + "/simulator/plivo/v1/Account")
    intruder = plivo.RestClient(settings.PLIVO_AUTH_ID, "guessed-token", timeout=5)

    with pytest.raises(plivo_exceptions.AuthenticationError):
        intruder.messages.create(src="+14155550100", dst="+14155550123", text="hi")
    assert sim_api.messages == {}


def test_mounted_fake_refuses_what_plivo_refuses_with_plivos_error_shape(live_app, settings, sim_api):
    response = requests.post(
        f"{live_app.url}/simulator/plivo/v1/Account/{settings.PLIVO_AUTH_ID}/Message/",
        json={"src": "+14155550100", "dst": "+14155550123", "type": "whatsapp",
              "interactive": {"type": "button", "body": {"text": "Pick"},
                              "action": {"buttons": [{"id": str(i), "title": f"B{i}"} for i in range(4)]}}},
        auth=(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN), timeout=5,
    )

    assert response.status_code == 400
    assert "1 to 3 buttons" in response.json()["error"]
    assert response.json()["api_id"]
    assert sim_api.messages == {}


def test_mounted_fake_needs_no_csrf_token_like_the_real_api(sim_api, settings):
    client = Client(enforce_csrf_checks=True)
    credentials = base64.b64encode(f"{settings.PLIVO_AUTH_ID}:{settings.PLIVO_AUTH_TOKEN}".encode()).decode()

    response = client.post(
        f"/simulator/plivo/v1/Account/{settings.PLIVO_AUTH_ID}/Message/",
        data=json.dumps({"src": "+14155550100", "dst": "+14155550123", "text": "hi", "type": "sms"}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Basic {credentials}",
    )

    assert response.status_code == 202
    assert response.json()["message"] == "message(s) queued"


def test_delivery_reports_reach_parleys_status_webhook_signed(sdk, live_app, sim_api):
    status_url = f"{live_app.url}/webhooks/plivo/status/"
    [uuid] = sdk.messages.create(src="+14155550199", dst="+14155550123", text="hi", type_="sms", url=status_url).message_uuid

    def statuses():
        return list(MessageStatusEvent.objects.filter(plivo_message_uuid=uuid).order_by("sequence").values_list("status", flat=True))

    assert wait_for(lambda: len(statuses()) == 3) and statuses() == ["queued", "sent", "delivered"]


def test_whatsapp_read_is_reported_only_once_the_customer_looks_at_the_chat(sdk, live_app, sim_api, phone):
    status_url = f"{live_app.url}/webhooks/plivo/status/"
    [uuid] = sdk.messages.create(src="+14155550100", dst="+14155550123", text="hi", type_="whatsapp",
                                 url=status_url).message_uuid
    assert wait_for(lambda: sim_api.messages[uuid].reports == ["queued", "sent", "delivered"])

    phone.thread("+14155550123", visible="0")
    time.sleep(0.5)  # several report delays: nothing more may come on its own
    assert sim_api.messages[uuid].reports == ["queued", "sent", "delivered"]

    phone.thread("+14155550123", visible="1")
    assert wait_for(lambda: MessageStatusEvent.objects.filter(plivo_message_uuid=uuid, status="read").exists())
    assert sim_api.messages[uuid].reports == ["queued", "sent", "delivered", "read"]
    read = MessageStatusEvent.objects.get(plivo_message_uuid=uuid, status="read")
    assert read.sequence == 4


def test_sms_stop_makes_plivo_fail_later_sends_with_error_200_until_start(sdk, live_app, sim_api, phone):
    status_url = f"{live_app.url}/webhooks/plivo/status/"
    assert phone.send(phone="+14155550123", channel="sms", text="Stop").json()["message"]["webhook"]["status"] == 200

    [blocked] = sdk.messages.create(src="+14155550199", dst="+14155550123", text="Sale!", url=status_url).message_uuid
    assert wait_for(lambda: sim_api.messages[blocked].reports == ["queued", "failed"])
    assert sim_api.messages[blocked].error_code == "200"
    failed = wait_for(lambda: MessageStatusEvent.objects.filter(plivo_message_uuid=blocked, status="failed").first())
    assert failed.error_code == "200"

    phone.send(phone="+14155550123", channel="sms", text="START")
    [allowed] = sdk.messages.create(src="+14155550199", dst="+14155550123", text="Welcome back", url=status_url).message_uuid
    assert wait_for(lambda: sim_api.messages[allowed].reports == ["queued", "sent", "delivered"])
