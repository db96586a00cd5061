"""The fake Plivo's Media API answers the real SDK as Plivo does, and serves the media customers
send behind the account's basic auth."""

import plivo
import pytest
import requests
from plivo import exceptions as plivo_exceptions

from conversations.tests.media_support import PNG


@pytest.fixture
def client(fake_plivo, settings, monkeypatch):
    monkeypatch.setattr("plivo.rest.client.PLIVO_API_BASE_URI", fake_plivo.base_url + "/v1/Account")
    return plivo.RestClient(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN, timeout=2)


@pytest.fixture
def png_path(tmp_path):
    path = tmp_path / "receipt.png"
    path.write_bytes(PNG)
    return str(path)


def test_an_upload_answers_plivos_shape_and_can_be_read_back(client, fake_plivo, png_path, settings):
    response = client.media.upload([png_path])
    [item] = response.objects
    assert (item.file_name, item.content_type, item.size, item.status) == ("receipt.png", "image/png", len(PNG), "success")
    assert item.media_url.endswith(f"/v1/Account/{settings.PLIVO_AUTH_ID}/Media/{item.media_id}")
    assert fake_plivo.media.get(item.media_id).data == PNG
    assert client.media.get(item.media_id).media_id == item.media_id
    listed = client.media.list(limit=5)
    assert listed.meta.total_count == 1 and listed.objects[0].media_id == item.media_id


def test_a_send_with_an_unknown_media_id_is_refused(client):
    with pytest.raises(plivo_exceptions.ValidationError, match="media_id"):
        client.messages.create(src="+14155550199", dst="+14155550123", type_="mms", media_ids=["nope"])


def test_an_uploaded_file_goes_out_with_its_media_id(client, fake_plivo, png_path):
    [item] = client.media.upload([png_path]).objects
    response = client.messages.create(src="+14155550199", dst="+14155550123", type_="mms", media_ids=[item.media_id])
    assert fake_plivo.messages[response.message_uuid[0]].body["media_ids"] == [item.media_id]


def test_inbound_media_is_served_only_with_the_account_credentials(fake_plivo, settings):
    url = fake_plivo.media.add_inbound(message_uuid="u-1", data=PNG, content_type="image/png")
    assert "." not in url.rsplit("/", 1)[1]
    assert requests.get(url, timeout=2).status_code == 401
    assert requests.get(url, auth=(settings.PLIVO_AUTH_ID, "wrong"), timeout=2).status_code == 401
    served = requests.get(url, auth=(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN), timeout=2)
    assert (served.status_code, served.headers["Content-Type"], served.content) == (200, "image/png", PNG)
    assert requests.get(url.replace("u-1", "u-2"), auth=(settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN),
                        timeout=2).status_code == 404
