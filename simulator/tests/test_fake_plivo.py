"""The fake Plivo API answers the real SDK as Plivo does."""

import plivo
import pytest
from plivo import exceptions as plivo_exceptions


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
