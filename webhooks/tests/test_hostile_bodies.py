"""Odd and hostile webhook bodies: a clear 400/403 JSON answer, never a 500 or a traceback,
and a signed message carrying NUL is still stored (without the NUL)."""

import json
import logging

import pytest

from conversations.models import Contact, Message, MessageStatusEvent
from conversations.tests.factories import MessageFactory
from webhooks.models import WebhookReceipt
from webhooks.signing import sign_v3
from webhooks.tests.conftest import ACCOUNT_TOKEN, MESSAGE_PATH, PUBLIC_BASE_URL, STATUS_PATH, load_fixture

pytestmark = pytest.mark.django_db

URL = PUBLIC_BASE_URL + MESSAGE_PATH


def nested(depth: int) -> str:
    return '{"From": ' + '{"a": ' * depth + '"14155550123"' + "}" * depth + "}"


ODD_JSON = {
    "nested 1,000 deep": nested(1000),
    "nested 100,000 deep": nested(100_000),
    "nested 50 deep": nested(50),
    "array nested 5,000 deep": '{"From": ' + "[" * 5000 + "]" * 5000 + "}",
    "array of objects": json.dumps({"From": "14155550123", "Media": [{"url": "a"}, {"url": "b"}]}),
    "array of strings and null": json.dumps({"From": ["14155550123", None]}),
    "array of strings and arrays": json.dumps({"From": ["14155550123", ["x"]]}),
    "lone surrogate in a value": '{"From": "14155550123", "Text": "hi \\ud800"}',
    "lone surrogate in a key": '{"From": "14155550123", "\\udfff": "x"}',
}


def assert_no_traceback(caplog):
    loud = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert loud == [], [record.getMessage() for record in loud]
    assert "Traceback" not in caplog.text


def assert_json_error(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "field", "code"}
    if code:
        assert error["code"] == code
    return error


class TestUnsignedOddBodies:
    @pytest.mark.parametrize("body", list(ODD_JSON.values()), ids=list(ODD_JSON))
    @pytest.mark.parametrize("path", [MESSAGE_PATH, STATUS_PATH])
    def test_odd_json_with_a_forged_signature_is_refused_403(self, client, caplog, body, path):
        caplog.set_level(logging.DEBUG)
        headers = {"X-Plivo-Signature-V3": "forged=", "X-Plivo-Signature-V3-Nonce": "1"}
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        assert_json_error(response, 403, "invalid_signature")
        assert_no_traceback(caplog)
        assert WebhookReceipt.objects.count() == 0

    @pytest.mark.parametrize("body", list(ODD_JSON.values()), ids=list(ODD_JSON))
    def test_odd_json_without_any_signature_is_refused_403(self, client, caplog, body):
        caplog.set_level(logging.DEBUG)
        response = client.post(MESSAGE_PATH, data=body, content_type="application/json")
        assert_json_error(response, 403, "invalid_signature")
        assert_no_traceback(caplog)

    @pytest.mark.parametrize("content_type, body", [
        ("application/x-www-form-urlencoded; charset=no-such-charset", "From=14155550123"),
        ("multipart/form-data", "no boundary"),
        ("multipart/form-data; boundary=zzz", "--zzz\r\nbroken"),
        ("application/x-www-form-urlencoded", "&".join(f"Media{n}=x" for n in range(1500))),
    ], ids=["unknown charset", "multipart without boundary", "broken multipart", "more fields than Django parses"])
    def test_unreadable_forms_are_refused_403_with_json(self, client, caplog, content_type, body):
        caplog.set_level(logging.DEBUG)
        headers = {"X-Plivo-Signature-V3": "forged=", "X-Plivo-Signature-V3-Nonce": "1"}
        # generic(): post() would encode the body in the unknown charset itself, and fail.
        response = client.generic("POST", MESSAGE_PATH, data=body.encode(), content_type=content_type, headers=headers)
        assert_json_error(response, 403, "invalid_signature")
        assert_no_traceback(caplog)

    def test_the_refusal_log_line_says_what_was_wrong_with_the_body(self, client, caplog):
        headers = {"X-Plivo-Signature-V3": "forged=", "X-Plivo-Signature-V3-Nonce": "1"}
        client.post(MESSAGE_PATH, data=nested(1000), content_type="application/json", headers=headers)
        assert "nested more than" in caplog.text


class TestSignedUnreadableBodies:
    """A body we cannot read is checked as an empty one: signed that way, it gets a 400 naming why."""

    @pytest.mark.parametrize("body, fragment", [
        (nested(1000), "nested more than"),
        (nested(50), "nested more than"),
        (ODD_JSON["array of objects"], "lists may hold only"),
        (ODD_JSON["array of strings and null"], "lists may hold only"),
        (ODD_JSON["lone surrogate in a value"], "not valid Unicode"),
    ])
    def test_signed_as_empty_it_is_refused_400_and_nothing_stored(self, client, caplog, body, fragment):
        headers = sign_v3(url=URL, params={}, auth_token=ACCOUNT_TOKEN)
        response = client.post(MESSAGE_PATH, data=body, content_type="application/json", headers=headers)
        error = assert_json_error(response, 400)
        assert fragment in error["message"]
        assert_no_traceback(caplog)
        assert WebhookReceipt.objects.count() == 0

    def test_json_nested_as_deep_as_plivo_nests_is_still_read(self, webhooks):
        data = load_fixture("whatsapp_button")
        data["params"]["Context"] = {"Referral": {"Source": {"Type": "ad", "Id": "1"}}}
        assert webhooks.post(MESSAGE_PATH, data["params"], encoding="json").status_code == 200
        assert Message.objects.get().kind == "button_reply"


class TestCustomerTextThatLooksLikeJson:
    """Form fields holding JSON are decoded (Plivo's `Button={...}`); a customer's own text may look the same."""

    @pytest.mark.parametrize("text", [
        "[" * 5000 + "]" * 5000,
        '{"a": ' * 900 + "1" + "}" * 900,
        "[" * 40 + "]" * 40,
    ], ids=["5,000 brackets", "900 nested objects", "40 brackets"])
    def test_it_is_stored_as_the_customer_typed_it(self, webhooks, caplog, text):
        assert webhooks.inbound("sms", Text=text).status_code == 200
        assert Message.objects.get().text == text
        assert_no_traceback(caplog)


class TestNul:
    """PostgreSQL refuses NUL in text and jsonb: a signed message carrying one is stored without it."""

    def test_form_message_with_nul_is_stored_without_it(self, webhooks, caplog):
        response = webhooks.inbound("sms", Text="Where is\x00 my order?\x00")
        assert response.status_code == 200
        message = Message.objects.get()
        assert message.text == "Where is my order?"
        assert "\x00" not in json.dumps(WebhookReceipt.objects.get().params)
        assert_no_traceback(caplog)

    def test_json_message_with_nul_everywhere_is_stored_without_it(self, webhooks, caplog):
        data = load_fixture("whatsapp_button")
        params = data["params"]
        params["Body"] = "Yes\u0000 please"
        params["Button"]["Payload"] = "confirm\u0000:42"
        params["Extra\u0000Field"] = "\u0000"
        params["ProfileName"] = "Dana\u0000"
        response = webhooks.post(MESSAGE_PATH, params, encoding="json")
        assert response.status_code == 200
        message = Message.objects.get()
        assert message.text == "Yes please"
        assert message.structured["button"]["payload"] == "confirm:42"
        assert message.structured["raw"]["ExtraField"] == ""
        assert Contact.objects.get().display_name == "Dana"
        assert_no_traceback(caplog)

    def test_stop_padded_with_nul_still_opts_out(self, webhooks):
        webhooks.inbound("sms", Text="STOP\x00")
        assert Contact.objects.get().sms_opted_out_at is not None

    def test_nul_in_the_message_uuid_is_still_one_message_across_retries(self, webhooks):
        for _ in range(2):
            assert webhooks.inbound("sms", MessageUUID="2d55a8de-7c5b-11ee\x00-a2a4").status_code == 200
        assert Message.objects.get().plivo_message_uuid == "2d55a8de-7c5b-11ee-a2a4"

    def test_status_report_with_nul_in_its_fields_and_ref_is_applied(self, webhooks):
        message = MessageFactory(direction="outbound", status="queued", plivo_message_uuid="9f2c1d3e-7c5b-11ee-a2a4-0242ac110099")
        response = webhooks.status(ref=f"{message.pk}%00", MessageUUID=message.plivo_message_uuid,
                                   ErrorCode="\x00", MCC="310\x00")
        assert response.status_code == 200
        message.refresh_from_db()
        assert message.status == "delivered" and MessageStatusEvent.objects.count() == 1


class TestTooLarge:
    @pytest.mark.parametrize("encoding", ["form", "json"])
    def test_a_body_over_the_upload_limit_is_refused_413_unread(self, webhooks, settings, caplog, encoding):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
        data = load_fixture("whatsapp_button" if encoding == "json" else "sms")
        data["params"]["Body" if encoding == "json" else "Text"] = "x" * 3000
        response = webhooks.post(MESSAGE_PATH, data["params"], encoding=encoding)
        error = assert_json_error(response, 413, "body_too_large")
        assert "2000 bytes" in error["message"]
        assert_no_traceback(caplog)
        assert WebhookReceipt.objects.count() == 0
