"""A callback with thousands of attachments keeps the first ten and says how many more there were."""

import json

import pytest

from conversations.models import InboxEvent, Message
from webhooks.payloads import INBOUND_MEDIA_LIMIT
from webhooks.tests.conftest import MESSAGE_PATH, load_fixture

pytestmark = pytest.mark.django_db


def media_url(number):
    return f"https://media.plivo.com/Account/MAXXXXXXXXXXXXXXXXXX/Message/m/Media/{number}"


def kept_urls(message):
    """Plivo's URL of each attachment kept (downloaded in the background), in order."""
    files = list(message.media_files.order_by("position"))
    assert [item["attachment_id"] for item in message.media] == [media.pk for media in files]
    return [media.source_url for media in files]


def test_ten_thousand_media_fields_store_ten_and_count_the_rest(webhooks):
    data = load_fixture("whatsapp_media")
    params = {key: value for key, value in data["params"].items() if key != "Media0"}
    params.update({f"Media{number}": media_url(number) for number in range(10_000)})
    params["MediaCount"] = "10000"
    assert len(json.dumps(params)) < 2_500_000  # a body Django accepts
    assert webhooks.post(MESSAGE_PATH, params, encoding="json").status_code == 200

    message = Message.objects.get()
    assert INBOUND_MEDIA_LIMIT == 10
    assert kept_urls(message) == [media_url(number) for number in range(10)]
    assert message.structured["media_not_shown"] == 9_990
    assert message.text == "receipt attached"
    pushed = InboxEvent.objects.get(type="message.created").data["message"]
    assert len(pushed["media"]) == 10 and pushed["payload"]["media_not_shown"] == 9_990


def test_a_form_mms_over_the_limit_keeps_the_first_ten_in_order(webhooks):
    data = load_fixture("mms")
    params = {key: value for key, value in data["params"].items() if not key.startswith("Media")}
    for number in range(1, 401):  # within DATA_UPLOAD_MAX_NUMBER_FIELDS
        params[f"Media{number}"] = media_url(number)
        params[f"MediaContentType{number}"] = "image/png"
    assert webhooks.post(MESSAGE_PATH, params).status_code == 200
    message = Message.objects.get()
    assert kept_urls(message) == [media_url(number) for number in range(1, 11)]
    assert {item["content_type"] for item in message.media} == {"image/png"}
    assert message.structured == {"media_not_shown": 390}


def test_links_that_are_not_http_are_not_counted_as_hidden_attachments(webhooks):
    params = load_fixture("mms")["params"]
    params.update({f"Media{number}": "javascript:alert(1)" for number in range(3, 40)})
    assert webhooks.post(MESSAGE_PATH, params).status_code == 200
    message = Message.objects.get()
    assert len(message.media) == 2 and "media_not_shown" not in message.structured


def test_the_raw_payload_of_an_unsupported_message_drops_the_hidden_attachments(webhooks):
    params = load_fixture("whatsapp_unknown")["params"]
    params.update({f"Media{number}": media_url(number) for number in range(2_000)})
    params.update({"Media5.ContentType": "image/png", "Media1500.ContentType": "image/png"})
    assert webhooks.post(MESSAGE_PATH, params, encoding="json").status_code == 200
    message = Message.objects.get()
    assert message.kind == "unsupported" and message.structured["media_not_shown"] == 1_990
    raw = message.structured["raw"]
    assert raw["ContentType"] == "unknown" and raw["Media9"] == media_url(9) and raw["Media5.ContentType"] == "image/png"
    assert "Media10" not in raw and "Media1500.ContentType" not in raw


def test_a_json_media_list_is_capped_too(webhooks):
    params = load_fixture("whatsapp_unknown")["params"]
    params["Media"] = [media_url(number) for number in range(300)]
    assert webhooks.post(MESSAGE_PATH, params, encoding="json").status_code == 200
    message = Message.objects.get()
    assert len(message.media) == 10 and message.structured["media_not_shown"] == 290
    assert message.structured["raw"]["Media"] == [media_url(number) for number in range(10)]


def test_an_mms_within_the_limit_carries_no_marker(webhooks):
    webhooks.inbound("mms")
    assert "media_not_shown" not in Message.objects.get().structured
