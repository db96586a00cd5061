"""The signature check, tested with the attacks it must stop (and the variants it must accept)."""


import pytest

from conversations.models import Message, MessageStatusEvent
from webhooks.models import SignatureFamilyTally
from webhooks.signing import (
    V3_NONCE,
    V3_SIGNATURE,
    expected_v3_signature,
    sign_v2,
    sign_v3,
)
from webhooks.tests.conftest import (
    ACCOUNT_TOKEN,
    MAIN_TOKEN,
    MESSAGE_PATH,
    PUBLIC_BASE_URL,
    STATUS_PATH,
    load_fixture,
)

pytestmark = pytest.mark.django_db

URL = PUBLIC_BASE_URL + MESSAGE_PATH


@pytest.fixture
def sms():
    return load_fixture("sms")["params"]


def assert_refused(response, caplog, reason_fragment):
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert Message.objects.count() == 0 and MessageStatusEvent.objects.count() == 0
    refusals = [record.getMessage() for record in caplog.records if "refused Plivo webhook" in record.getMessage()]
    assert refusals and reason_fragment in refusals[-1], refusals
    # The log says why, never with a secret in it.
    assert ACCOUNT_TOKEN not in refusals[-1] and MAIN_TOKEN not in refusals[-1]


class TestRefused:
    def test_request_without_any_signature_header_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, sign=False)
        assert_refused(response, caplog, "no Plivo signature headers")

    def test_signature_without_nonce_is_refused(self, webhooks, sms, caplog):
        headers = sign_v3(url=URL, params=sms, auth_token=ACCOUNT_TOKEN)
        del headers[V3_NONCE]
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers)
        assert_refused(response, caplog, "Nonce header is missing")

    def test_nonce_without_signature_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers={V3_NONCE: "12345"})
        assert_refused(response, caplog, "without X-Plivo-Signature-V3")

    def test_wrong_signature_is_refused(self, webhooks, sms, caplog):
        headers = {V3_SIGNATURE: "Z5pSTuMJMXiI94o0vCxVjB9veGWxkVoFM5/1LSEu0CM=", V3_NONCE: "12345"}
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers)
        assert_refused(response, caplog, "X-Plivo-Signature-V3 does not match")

    def test_tampered_field_is_refused(self, webhooks, sms, caplog):
        tampered = {**sms, "Text": "Please refund me $5000"}
        response = webhooks.post(MESSAGE_PATH, sms, body_params=tampered)
        assert_refused(response, caplog, "does not match")

    def test_tampered_sender_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, body_params={**sms, "From": "14155550999"})
        assert_refused(response, caplog, "does not match")

    def test_added_field_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, body_params={**sms, "MessageIntent2": "optout"})
        assert_refused(response, caplog, "does not match")

    def test_repeated_field_with_a_second_value_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, body_params={**sms, "Text": [sms["Text"], "evil"]})
        assert_refused(response, caplog, "does not match")

    def test_removed_field_is_refused(self, webhooks, sms, caplog):
        trimmed = {key: value for key, value in sms.items() if key != "MessageIntent"}
        response = webhooks.post(MESSAGE_PATH, sms, body_params=trimmed)
        assert_refused(response, caplog, "does not match")

    def test_signature_made_with_another_token_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, token="someone-elses-auth-token")
        assert_refused(response, caplog, "does not match")

    def test_http_url_signature_is_refused_when_we_are_served_over_https(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, signed_url="http://parley.example.com" + MESSAGE_PATH)
        assert_refused(response, caplog, f"signed URL {URL}")

    def test_signature_for_another_host_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, signed_url="https://attacker.example" + MESSAGE_PATH)
        assert_refused(response, caplog, "does not match")

    def test_signature_for_the_other_endpoint_is_refused(self, webhooks, caplog):
        report = load_fixture("status_delivered")["params"]
        response = webhooks.post(STATUS_PATH, report, signed_url=PUBLIC_BASE_URL + MESSAGE_PATH)
        assert_refused(response, caplog, "does not match")

    def test_changed_ref_in_the_status_url_is_refused(self, webhooks, caplog):
        report = load_fixture("status_delivered")["params"]
        response = webhooks.post(STATUS_PATH + "?ref=2", report, signed_url=PUBLIC_BASE_URL + STATUS_PATH + "?ref=1")
        assert_refused(response, caplog, "does not match")

    def test_main_account_signature_is_refused_without_a_main_token(self, webhooks, sms, settings, caplog):
        settings.PLIVO_MAIN_AUTH_TOKEN = ""
        headers = sign_v3(url=URL, params=sms, auth_token="anything", main_account_token="anything")
        del headers[V3_SIGNATURE]
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers)
        assert_refused(response, caplog, "PLIVO_MAIN_AUTH_TOKEN is not set")

    def test_everything_is_refused_while_no_auth_token_is_configured(self, webhooks, sms, settings, caplog):
        settings.PLIVO_AUTH_TOKEN = ""
        response = webhooks.post(MESSAGE_PATH, sms, token="")
        assert_refused(response, caplog, "PLIVO_AUTH_TOKEN is not set")

    def test_v2_is_not_accepted_when_a_v3_header_is_present(self, webhooks, sms, caplog):
        # A valid V2 signature (which does not cover the body) next to a forged V3 one.
        headers = {**sign_v2(url=URL, auth_token=ACCOUNT_TOKEN), V3_SIGNATURE: "forged", V3_NONCE: "1"}
        response = webhooks.post(MESSAGE_PATH, {**sms, "Text": "tampered"}, sign=False, headers=headers)
        assert_refused(response, caplog, "X-Plivo-Signature-V3 does not match")

    def test_wrong_v2_signature_is_refused(self, webhooks, sms, caplog):
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=sign_v2(url=URL, auth_token="wrong"))
        assert_refused(response, caplog, "X-Plivo-Signature-V2 does not match")

    def test_get_is_not_allowed(self, client):
        assert client.get(MESSAGE_PATH).status_code == 405
        assert Message.objects.count() == 0

    def test_status_endpoint_refuses_unsigned_reports(self, webhooks, caplog):
        response = webhooks.post(STATUS_PATH, load_fixture("status_delivered")["params"], sign=False)
        assert_refused(response, caplog, "no Plivo signature headers")


class TestAccepted:
    def test_valid_v3_signature_is_accepted_and_its_family_recorded(self, webhooks, sms):
        response = webhooks.post(MESSAGE_PATH, sms)
        assert response.status_code == 200 and response.content == b""
        assert Message.objects.filter(plivo_message_uuid=sms["MessageUUID"]).exists()
        assert SignatureFamilyTally.objects.get(endpoint=MESSAGE_PATH, family="v3").count == 1

    def test_main_account_signature_is_accepted_with_the_main_token(self, webhooks, sms):
        headers = sign_v3(url=URL, params=sms, auth_token=MAIN_TOKEN, main_account_token=MAIN_TOKEN)
        del headers[V3_SIGNATURE]
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers)
        assert response.status_code == 200
        assert SignatureFamilyTally.objects.get(family="ma-v3").count == 1

    def test_main_account_signature_made_with_the_subaccount_token_is_refused(self, webhooks, sms, caplog):
        headers = sign_v3(url=URL, params=sms, auth_token=ACCOUNT_TOKEN, main_account_token=ACCOUNT_TOKEN)
        del headers[V3_SIGNATURE]
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers)
        assert_refused(response, caplog, "X-Plivo-Signature-Ma-V3 does not match")

    def test_one_valid_signature_among_several_comma_separated_is_accepted(self, webhooks, sms):
        nonce = "73051956226145826051"
        valid = expected_v3_signature(method="POST", url=URL, params=sms, auth_token=ACCOUNT_TOKEN, nonce=nonce)
        headers = {V3_SIGNATURE: f"AAAAoldrotatedsignatureAAAA=, {valid} ,BBBB=", V3_NONCE: nonce}
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code == 200

    def test_several_signatures_none_valid_is_refused(self, webhooks, sms, caplog):
        headers = {V3_SIGNATURE: "AAAA=, BBBB=", V3_NONCE: "1"}
        assert_refused(webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers), caplog, "does not match")

    def test_query_string_of_the_status_url_is_part_of_what_is_signed(self, webhooks):
        report = load_fixture("status_delivered")["params"]
        response = webhooks.post(STATUS_PATH + "?ref=99", report)
        assert response.status_code == 200

    def test_json_body_is_verified_over_its_fields(self, webhooks):
        data = load_fixture("whatsapp_button")
        assert webhooks.post(MESSAGE_PATH, data["params"], encoding="json").status_code == 200
        tampered = {**data["params"], "Button": {"Text": "Yes", "Payload": "refund:all"}}
        response = webhooks.post(MESSAGE_PATH, {**data["params"], "MessageUUID": "other"}, encoding="json", body_params={**tampered, "MessageUUID": "other"})
        assert response.status_code == 403

    def test_v2_is_accepted_when_no_v3_header_is_sent(self, webhooks, sms):
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=sign_v2(url=URL, auth_token=ACCOUNT_TOKEN))
        assert response.status_code == 200
        assert SignatureFamilyTally.objects.get(family="v2").count == 1

    def test_main_account_v2_is_accepted_with_the_main_token(self, webhooks, sms):
        headers = sign_v2(url=URL, auth_token="unused", main_account_token=MAIN_TOKEN)
        del headers["X-Plivo-Signature-V2"]
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code == 200
        assert SignatureFamilyTally.objects.get(family="ma-v2").count == 1

    def test_without_public_base_url_the_forwarded_https_url_is_verified(self, webhooks, sms, settings, caplog):
        settings.PUBLIC_BASE_URL = ""
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        proxied = {"X-Forwarded-Proto": "https", "Host": "testserver"}
        signed_https = sign_v3(url="https://testserver" + MESSAGE_PATH, params=sms, auth_token=ACCOUNT_TOKEN)
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers={**signed_https, **proxied}).status_code == 200
        # Without the proxy header the request is plain http, so the https signature fails.
        again = {**sms, "MessageUUID": "another-uuid"}
        signed_again = sign_v3(url="https://testserver" + MESSAGE_PATH, params=again, auth_token=ACCOUNT_TOKEN)
        response = webhooks.post(MESSAGE_PATH, again, sign=False, headers={**signed_again, "Host": "testserver"})
        assert response.status_code == 403
        assert "signed URL http://testserver/webhooks/plivo/message/" in caplog.text

    def test_signature_families_are_counted_per_request(self, webhooks, sms):
        for number in range(3):
            webhooks.post(MESSAGE_PATH, {**sms, "MessageUUID": f"uuid-{number}"})
        webhooks.post(MESSAGE_PATH, sms, sign=False, headers=sign_v2(url=URL, auth_token=ACCOUNT_TOKEN))
        assert dict(SignatureFamilyTally.objects.values_list("family", "count")) == {"v3": 3, "v2": 1}


def test_signature_family_counts_are_batched_but_not_lost(webhooks, sms, settings):
    from webhooks.services import signature_family_flush

    settings.WEBHOOK_SIGNATURE_TALLY_FLUSH_SECONDS = 3600
    for number in range(3):
        webhooks.post(MESSAGE_PATH, {**sms, "MessageUUID": f"batched-{number}"})
    assert SignatureFamilyTally.objects.get(family="v3").count == 1  # the first one is written at once
    signature_family_flush()
    assert SignatureFamilyTally.objects.get(family="v3").count == 3


def test_the_worked_example_from_plivo_md_matches_the_sdk():
    params = {"From": "14155550100", "To": "14155550101", "Text": "Hello there",
              "MessageUUID": "b1b2c3d4-0000-1111-2222-333344445555", "Type": "sms"}
    signature = expected_v3_signature(method="POST", url="https://example.com/webhooks/plivo/message/",
                                      params=params, auth_token="tok", nonce="12345")
    assert signature == "Z5pSTuMJMXiI94o0vCxVjB9veGWxkVoFM5/1LSEu0CM="
