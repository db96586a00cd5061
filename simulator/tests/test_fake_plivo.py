"""The fake Plivo API answers the real SDK as Plivo does."""

import base64
import json

import plivo
import pytest
from plivo import exceptions as plivo_exceptions

from conversations.tests.support import wait_for


@pytest.fixture
def client(fake_plivo, settings, monkeypatch):
    monkeypatch.setattr("plivo.rest.client.PLIVO_API_BASE_URI", fake_plivo.base_url + "/v1/Account")
    return plivo.RestClient(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN, timeout=2)


def test_sdk_send_is_accepted_with_plivo_shape(client, fake_plivo):
    response = client.messages.create(src="+14155550100", dst="+14155550123", text="hi", type_="sms")
    assert response.message == "message(s) queued"
    [uuid] = response.message_uuid
    assert fake_plivo.messages[uuid].body["text"] == "hi"
    assert client.messages.get(uuid).message_uuid == uuid


def test_wrong_token_is_refused(fake_plivo, settings, monkeypatch):
    monkeypatch.setattr("plivo.rest.client.PLIVO_API_BASE_URI", fake_plivo.base_url + "/v1/Account")
    bad = plivo.RestClient(settings.PLIVO_AUTH_ID, "wrong-token", timeout=2)
    with pytest.raises(plivo_exceptions.AuthenticationError):
        bad.messages.create(src="+14155550100", dst="+14155550123", text="hi")
    assert not fake_plivo.messages


def test_structured_content_outside_whatsapp_is_refused_like_plivo(fake_plivo, settings):
    import requests

    response = requests.post(
        f"{fake_plivo.base_url}/v1/Account/{settings.PLIVO_AUTH_ID}/Message/",
        json={"src": "+14155550100", "dst": "+14155550123", "type": "sms",
              "location": {"latitude": "1", "longitude": "2", "name": "n", "address": "a"}},
        auth=(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN), timeout=2,
    )
    assert response.status_code == 400
    assert "only applicable when type is whatsapp" in response.json()["error"]
    assert not fake_plivo.messages


@pytest.mark.parametrize("suffix,status,exc", [("2222", 500, plivo_exceptions.PlivoServerError), ("3333", 429, plivo_exceptions.PlivoRestError)])
def test_special_numbers_fail_once_then_accept(client, fake_plivo, suffix, status, exc):
    with pytest.raises(exc):
        client.messages.create(src="+14155550100", dst=f"+1415555{suffix}", text="hi")
    client.messages.create(src="+14155550100", dst=f"+1415555{suffix}", text="hi")
    assert [r.status for r in fake_plivo.sends()] == [status, 202]


def test_scripted_fault(client, fake_plivo):
    fake_plivo.fail_next(503)
    with pytest.raises(plivo_exceptions.PlivoRestError):
        client.messages.create(src="+14155550100", dst="+14155550123", text="hi")
    assert not fake_plivo.messages


def test_lifecycle_depends_on_destination(fake_plivo):
    from simulator.fake_plivo import FakeMessage

    def lifecycle(dst, kind="whatsapp"):
        return [s for s, _ in fake_plivo.lifecycle_for(FakeMessage("u", "a", "+1", dst, kind, {}, None))]

    assert lifecycle("+14155550123") == ["queued", "sent", "delivered", "read"]
    assert lifecycle("+14155550123", "sms") == ["queued", "sent", "delivered"]
    assert lifecycle("+14155550000") == ["queued", "failed"]
    assert lifecycle("+14155551111") == ["queued", "sent", "undelivered"]
    assert lifecycle("+14155554444") == []


# --- as Plivo's servers: the Message API's shape, latency and account limit -------------------
PLIVO_GET_KEYS = {  # the SDK's tests/resources/fixtures/messageGetResponse.json
    "api_id", "error_code", "from_number", "message_direction", "message_state", "message_time", "message_type",
    "message_uuid", "resource_uri", "to_number", "total_amount", "total_rate", "units", "message_sent_time",
    "message_updated_time", "error_message",
}


def test_message_lookup_answers_with_plivos_documented_shape(client, fake_plivo):
    [uuid] = client.messages.create(src="+14155550100", dst="+14155550123", text="hi", type_="sms").message_uuid
    found = client.messages.get(uuid)
    assert set(found.__dict__) >= PLIVO_GET_KEYS
    assert (found.message_state, found.error_code, found.message_direction) == ("queued", None, "outbound")
    assert found.to_number == "14155550123" and found.message_time.endswith("+00:00")
    fake_plivo.set_state(uuid, "delivered")
    assert (client.messages.get(uuid).message_state, client.messages.get(uuid).error_code) == ("delivered", "000")
    fake_plivo.set_state(uuid, "undelivered", error_code="80")
    undelivered = client.messages.get(uuid)
    assert (undelivered.error_code, undelivered.error_message) == ("80", "destination temporarily unavailable")


def test_lookup_of_a_message_plivo_does_not_know_is_404(client, fake_plivo):
    [uuid] = client.messages.create(src="+14155550100", dst="+14155550123", text="hi", type_="sms").message_uuid
    fake_plivo.forget(uuid)
    with pytest.raises(plivo_exceptions.ResourceNotFoundError):
        client.messages.get(uuid)


def test_4444_is_delivered_at_plivo_but_no_report_is_ever_posted(fake_plivo):
    from simulator.fake_plivo import FakeMessage

    fake_plivo.auto_report = True
    message = FakeMessage("u-4444", "a", "+14155550100", "+14155554444", "sms", {}, "http://127.0.0.1:9/unreachable")
    fake_plivo.reporter.schedule_lifecycle(message)
    assert wait_for(lambda: message.state == "delivered")
    assert message.reports == [] and fake_plivo.reporter.pending() == 0


def test_beyond_the_account_limit_requests_get_429_until_the_window_moves_on(settings):
    from simulator.fake_plivo import FakePlivoAPI

    now = [100.0]
    api = FakePlivoAPI(auth_id=settings.PLIVO_AUTH_ID, auth_token=settings.PLIVO_AUTH_TOKEN, auto_report=False,
                       rate_limit=(3, 5.0), clock=lambda: now[0])
    auth = "Basic " + base64.b64encode(f"{settings.PLIVO_AUTH_ID}:{settings.PLIVO_AUTH_TOKEN}".encode()).decode()
    path = f"/v1/Account/{settings.PLIVO_AUTH_ID}/Message/"
    body = json.dumps({"src": "+14155550100", "dst": "+14155550123", "text": "hi", "type": "sms"}).encode()

    def send():
        return api.handle("POST", path, auth, body)[0]

    assert [send() for _ in range(4)] == [202, 202, 202, 429]
    assert api.handle("GET", f"{path}{api.accepted[0].uuid}/", auth, b"")[0] == 429  # lookups count too
    now[0] += 4.9
    assert send() == 429
    now[0] += 0.2  # the first three are out of the 5-second window
    assert [send() for _ in range(4)] == [202, 202, 202, 429]
    assert len(api.accepted) == 6


def test_each_request_takes_the_latency_with_jitter_half_each_way(settings):
    from simulator.fake_plivo import FakePlivoAPI

    slept = []
    api = FakePlivoAPI(auth_id=settings.PLIVO_AUTH_ID, auth_token=settings.PLIVO_AUTH_TOKEN, auto_report=False,
                       latency=0.2, jitter=0.25, seed=3, sleep=slept.append)
    for _ in range(50):
        api.handle("GET", f"/v1/Account/{settings.PLIVO_AUTH_ID}/Message/nope/", None, b"")
    assert len(slept) == 100 and all(0.075 <= s <= 0.125 for s in slept)
    assert max(slept) - min(slept) > 0.03  # it does vary


def test_a_scripted_fault_can_carry_retry_after(fake_plivo, settings):
    import requests

    fake_plivo.fail_next(429, retry_after=7)
    response = requests.post(f"{fake_plivo.base_url}/v1/Account/{settings.PLIVO_AUTH_ID}/Message/",
                             json={"src": "+14155550100", "dst": "+14155550123", "text": "hi"},
                             auth=(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN), timeout=2)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")


def test_a_reset_takes_back_a_slow_network_a_test_asked_for(fake_plivo):
    """The fake serves the whole test session: one test's latency must not time out the next."""
    fake_plivo.latency, fake_plivo.jitter = 2.0, 0.0
    fake_plivo.reset()
    assert (fake_plivo.latency, fake_plivo.jitter) == (0.0, 0.25)
