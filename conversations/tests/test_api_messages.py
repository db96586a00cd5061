"""The sending API: POST /api/v1/messages/, message detail, retry, templates, auth and throttling."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conversations.api.messages import SendRateThrottle
from conversations.models import Conversation, Message, MessageStatus, OutboundJob
from conversations.tests.factories import MessageTemplateFactory
from conversations.tests.outbound_support import (  # noqa: F401 (fixture)
    closed_conversation,
    drain,
    fast_retries,
    open_conversation,
    reload,
)
from webhooks.signing import sign_v3
from webhooks.tests.support import receipts_apply_all

pytestmark = pytest.mark.django_db

SEND = "/api/v1/messages/"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def post(client, body, **headers):
    return client.post(SEND, body, format="json", headers=headers)


def test_sms_to_a_new_number_is_queued_and_sent(agent_client, fake_plivo, agent):
    response = post(agent_client, {"to": "+1 (415) 555-0123", "channel": "sms", "type": "text", "text": "Hi there"})
    assert response.status_code == 202, response.json()
    body = response.json()
    message = Message.objects.get(direction="outbound")
    assert body["id"] == message.pk and body["status"] == "queued"
    assert body["conversation_id"] == message.conversation_id
    assert body["sent_by"]["username"] == agent.username
    assert message.conversation.contact.phone == "+14155550123"
    drain()
    assert reload(message).status == MessageStatus.SENDING
    assert fake_plivo.sends()[0].body["text"] == "Hi there"


def test_type_defaults_to_text(agent_client, fake_plivo):
    response = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"})
    assert response.status_code == 202 and response.json()["kind"] == "text"


def test_whatsapp_free_form_to_a_new_number_is_refused_with_the_fix(agent_client):
    response = post(agent_client, {"to": "+14155550123", "channel": "whatsapp", "type": "text", "text": "Hi"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "window_closed" and "approved template" in error["message"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_template_to_a_new_whatsapp_number_is_accepted(agent_client):
    MessageTemplateFactory(name="welcome", language="en_US", body="Hello {{1}}!")
    response = post(agent_client, {"to": "+14155550123", "channel": "whatsapp", "type": "template",
                                   "template": {"name": "welcome", "language": "en_US", "parameters": {"body": ["Ada"]}}})
    assert response.status_code == 202
    assert response.json()["text"] == "Hello Ada!"
    assert response.json()["payload"]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]


@pytest.mark.parametrize("body,status,field,code", [
    ({"channel": "sms", "text": "Hi"}, 400, "to", "required"),
    ({"to": "+14155550123", "text": "Hi"}, 400, "channel", "required"),
    ({"to": "+14155550123", "channel": "fax", "text": "Hi"}, 400, "channel", "invalid_choice"),
    ({"to": "+14155550123", "channel": "sms", "type": "sticker"}, 400, "type", "invalid_choice"),
    ({"to": "not a number", "channel": "sms", "text": "Hi"}, 422, "to", "invalid_phone"),
    ({"to": "+14155550123", "channel": "sms", "text": ""}, 400, "text", "required"),
    ({"to": "+14155550123", "channel": "sms", "text": "x" * 1601}, 422, "text", "too_long"),
    ({"to": "+14155550123", "channel": "sms", "type": "media", "media_urls": ["ftp://x/a.jpg"]}, 422, "media_urls.0",
     "invalid_media_url"),
    ({"to": "+14155550123", "channel": "sms", "type": "location",
      "location": {"latitude": "1", "longitude": "2", "name": "Shop", "address": "Main St 1"}},
     422, "kind", "unsupported_for_channel"),
    ({"to": "+14155550123", "channel": "whatsapp", "type": "location",
      "location": {"latitude": "1", "longitude": "2", "address": "Main St 1"}}, 400, "location.name", "required"),
    ({"to": "+14155550123", "channel": "whatsapp", "type": "location",
      "location": {"latitude": "1", "longitude": "2", "name": "Shop", "address": " "}}, 400, "location.address", "blank"),
    ({"to": "+14155550123", "channel": "sms", "type": "template", "template": {"name": "x"}}, 400, "template.language",
     "required"),
])
def test_bad_requests_get_the_field_and_reason(agent_client, body, status, field, code):
    response = post(agent_client, body)
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]
    assert not Message.objects.exists()


def test_opted_out_contact_is_refused(agent_client):
    from conversations.services.contacts import contact_opt_out

    conversation = open_conversation(channel="sms", phone="+14155550123")
    contact_opt_out(contact=conversation.contact, channel="sms", reason="STOP")
    response = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "opted_out"


# --- idempotency ---------------------------------------------------------------------------------
def test_repeated_request_with_idempotency_key_sends_once(agent_client, fake_plivo):
    body = {"to": "+14155550123", "channel": "sms", "text": "Double click"}
    first = post(agent_client, body, **{"Idempotency-Key": "click-42"})
    second = post(agent_client, body, **{"Idempotency-Key": "click-42"})
    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert Message.objects.get(direction="outbound").idempotency_key == "click-42"
    drain()
    assert len(fake_plivo.sends()) == 1
    third = post(agent_client, body, **{"Idempotency-Key": "click-42"})  # after sending: the message as it is now
    assert third.json()["status"] == "sending" and len(fake_plivo.sends()) == 1


def test_without_a_key_each_request_is_a_new_message(agent_client):
    body = {"to": "+14155550123", "channel": "sms", "text": "Hi"}
    assert post(agent_client, body).json()["id"] != post(agent_client, body).json()["id"]


def test_key_reused_for_another_message_is_a_conflict(agent_client):
    post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}, **{"Idempotency-Key": "k"})
    response = post(agent_client, {"to": "+14155550124", "channel": "sms", "text": "Hi"}, **{"Idempotency-Key": "k"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_key_reused"


def test_overlong_idempotency_key_is_refused(agent_client):
    response = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}, **{"Idempotency-Key": "k" * 101})
    assert response.status_code == 400 and response.json()["error"]["field"] == "Idempotency-Key"
    assert not Message.objects.exists()


# --- reading a message -----------------------------------------------------------------------------
def signed_status_report(client, settings, message, status, sequence):
    url_path = f"/webhooks/plivo/status/?ref={message.pk}"
    params = {"MessageUUID": message.plivo_message_uuid, "Status": status, "Sequence": str(sequence),
              "From": "14155550199", "To": "14155550123", "Type": "sms"}
    headers = sign_v3(url=settings.PUBLIC_BASE_URL + url_path, params=params, auth_token=settings.PLIVO_AUTH_TOKEN)
    response = client.post(url_path, data=urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)
    receipts_apply_all()  # what the webhook worker does next
    return response


def test_detail_shows_status_history_and_attempts(agent_client, fake_plivo, fast_retries, settings, client):
    fake_plivo.fail_next(503)
    message_id = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}).json()["id"]
    drain()
    message = Message.objects.get(pk=message_id)
    for sequence, status in enumerate(["queued", "sent", "delivered"], start=1):
        assert signed_status_report(client, settings, message, status, sequence).status_code == 200
    body = agent_client.get(f"{SEND}{message_id}/").json()
    assert body["status"] == "delivered"
    assert [event["status"] for event in body["status_history"]] == ["queued", "sent", "delivered"]
    assert [(a["number"], a["outcome"], a["http_status"]) for a in body["send_attempts"]] == [
        (1, "transient_error", 503), (2, "accepted", 202)]


def test_unknown_message_is_404(agent_client):
    response = agent_client.get(f"{SEND}999999/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- retry ---------------------------------------------------------------------------------------
def test_retry_endpoint_sends_a_failed_message_again(agent_client, fake_plivo, agent):
    fake_plivo.fail_next(400, error="temporary misconfiguration")
    message_id = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}).json()["id"]
    drain()
    assert Message.objects.get(pk=message_id).status == MessageStatus.FAILED
    response = agent_client.post(f"{SEND}{message_id}/retry/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "sending" and body["error_message"] == ""
    assert body["plivo_message_uuid"] == fake_plivo.accepted[0].uuid
    assert [(a["outcome"], a["requested_by"] and a["requested_by"]["username"]) for a in body["send_attempts"]] == [
        ("permanent_error", None), ("accepted", agent.username)]
    assert len(fake_plivo.sends()) == 2


def test_retry_of_a_message_that_did_not_fail_is_a_conflict(agent_client, fake_plivo):
    message_id = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}).json()["id"]
    response = agent_client.post(f"{SEND}{message_id}/retry/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_retryable"
    assert not fake_plivo.sends()


# --- templates -----------------------------------------------------------------------------------
def test_templates_lists_approved_ones_with_their_slots(agent_client):
    MessageTemplateFactory(name="shipped", language="en_US", body="Hi {{1}}, {{2}} shipped.",
                           buttons=[{"type": "url", "text": "Track", "url": "https://x.example.com/{{1}}"}])
    MessageTemplateFactory(name="draft", language="en_US", status="PENDING", body="Not yet")
    MessageTemplateFactory(name="shipped", language="de", body="Hallo {{1}}")
    body = agent_client.get("/api/v1/templates/").json()
    assert [(t["name"], t["language"]) for t in body] == [("shipped", "de"), ("shipped", "en_US")]
    assert body[1]["parameter_slots"] == {"header": 0, "body": 2, "buttons": [{"index": 0, "sub_type": "url", "count": 1}]}
    assert [t["language"] for t in agent_client.get("/api/v1/templates/?language=de").json()] == ["de"]


# --- the thread view's POST delegates here ---------------------------------------------------------
def test_send_in_a_conversation(agent_client, fake_plivo):
    conversation = open_conversation(phone="+14155550123")
    response = agent_client.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                                 {"type": "text", "text": "Hello from the thread"}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["conversation_id"] == conversation.pk
    drain()
    assert fake_plivo.sends()[0].body["dst"] == "+14155550123"


def test_send_in_a_closed_whatsapp_conversation_is_refused(agent_client):
    conversation = closed_conversation()
    response = agent_client.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                                 {"type": "text", "text": "Hello?"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "window_closed"


# --- auth ----------------------------------------------------------------------------------------
ENDPOINTS = [("post", SEND), ("get", f"{SEND}1/"), ("post", f"{SEND}1/retry/"), ("get", "/api/v1/templates/")]


@pytest.mark.parametrize("method,url", ENDPOINTS)
def test_anonymous_gets_401_with_a_token_challenge(api_client, method, url):
    response = getattr(api_client, method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("method,url", ENDPOINTS)
def test_signed_in_non_agent_gets_403(api_client, outsider, method, url):
    api_client.force_authenticate(outsider)
    response = getattr(api_client, method)(url, {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only Parley agents can use this."


def test_a_bad_token_is_refused(api_client):
    response = post(api_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"},
                    Authorization="Token not-a-real-token")
    assert response.status_code == 401 and not Message.objects.exists()


def test_token_from_drf_create_token_sends(api_client, agent, fake_plivo, capsys):
    call_command("drf_create_token", agent.username)
    key = Token.objects.get(user=agent).key
    response = post(api_client, {"to": "+14155550123", "channel": "sms", "text": "From a system"},
                    Authorization=f"Token {key}")
    assert response.status_code == 202 and response.json()["sent_by"]["id"] == agent.pk


def test_session_post_without_csrf_token_is_refused(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(SEND, {"to": "+14155550123", "channel": "sms", "text": "Forged"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert not Message.objects.exists()


def test_deactivated_agent_token_stops_working(api_client, agent):
    key = Token.objects.create(user=agent).key
    agent.is_active = False
    agent.save()
    response = post(api_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}, Authorization=f"Token {key}")
    assert response.status_code in (401, 403) and not Message.objects.exists()


# --- throttle ------------------------------------------------------------------------------------
def test_sending_is_throttled_per_user_with_retry_after(agent_client, other_agent, monkeypatch):
    monkeypatch.setitem(SendRateThrottle.THROTTLE_RATES, "send", "2/min")
    body = {"to": "+14155550123", "channel": "sms", "text": "Hi"}
    assert [post(agent_client, body).status_code for _ in range(2)] == [202, 202]
    response = post(agent_client, body)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    # The thread view shares the budget.
    conversation = Conversation.objects.get()
    thread = agent_client.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "Hi"}, format="json")
    assert thread.status_code == 429 and "Retry-After" in thread.headers
    assert Message.objects.filter(direction="outbound").count() == 2
    # Another agent has their own budget; reading is not throttled.
    other = APIClient()
    other.force_authenticate(other_agent)
    assert post(other, body).status_code == 202
    assert agent_client.get("/api/v1/templates/").status_code == 200


def test_unconfirmed_flag_is_visible_in_the_api(agent_client, fake_plivo, settings):
    settings.PLIVO_API_TIMEOUT_SECONDS = 0.2
    fake_plivo.fail_next(0, delay=0.5, accept=True)
    message_id = post(agent_client, {"to": "+14155550123", "channel": "sms", "text": "Hi"}).json()["id"]
    drain()
    body = agent_client.get(f"{SEND}{message_id}/").json()
    assert body["unconfirmed"] is True and body["status"] == "queued"
    assert body["send_attempts"][0]["outcome"] == "ambiguous"
    assert OutboundJob.objects.get().state == "unconfirmed"
    from conversations.tests.support import wait_for

    assert wait_for(lambda: fake_plivo.accepted)
    assert timezone.now() - timedelta(minutes=1) < Message.objects.get(direction="outbound").unconfirmed_since
