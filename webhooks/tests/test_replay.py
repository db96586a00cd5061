"""Replayed signatures: a captured V2 header pair cannot carry another request; V3 covers the body."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from conversations.models import Message, MessageStatusEvent
from conversations.tests.factories import MessageFactory
from webhooks.models import SignatureFamilyTally, SignatureNonce, WebhookReceipt
from webhooks.signing import V2_NONCE, sign_v2, sign_v3
from webhooks.tests.conftest import ACCOUNT_TOKEN, MAIN_TOKEN, MESSAGE_PATH, PUBLIC_BASE_URL, STATUS_PATH, load_fixture
from webhooks.tests.test_concurrency import at_once
from webhooks.worker import WebhookWorker

pytestmark = pytest.mark.django_db

URL = PUBLIC_BASE_URL + MESSAGE_PATH


@pytest.fixture
def sms():
    return load_fixture("sms")["params"]


def forged_from(params):
    return {**params, "From": "14155550999", "Text": "Refund me to this card", "MessageUUID": "forged-0001"}


def refusals(caplog):
    return [record.getMessage() for record in caplog.records if "refused Plivo webhook" in record.getMessage()]


class TestV2:
    def test_a_captured_v2_pair_cannot_carry_a_forged_message(self, webhooks, sms, caplog):
        captured = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=captured).status_code == 200

        response = webhooks.post(MESSAGE_PATH, forged_from(sms), sign=False, headers=captured)
        assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"
        assert list(Message.objects.values_list("plivo_message_uuid", flat=True)) == [sms["MessageUUID"]]
        assert "X-Plivo-Signature-V2-Nonce was already used with another request" in refusals(caplog)[-1]

    def test_a_nonce_is_spent_even_by_a_request_refused_with_400(self, webhooks, sms):
        # The first use of a nonce wins, whatever its outcome: a signed payload refused with 400
        # still spends it for other bodies.
        captured = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)
        assert webhooks.post(MESSAGE_PATH, {**sms, "MessageUUID": ""}, sign=False, headers=captured).status_code == 400
        assert webhooks.post(MESSAGE_PATH, forged_from(sms), sign=False, headers=captured).status_code == 403
        assert Message.objects.count() == 0

    def test_plivo_retrying_the_same_callback_with_the_same_nonce_is_accepted_and_stored_once(self, webhooks, sms):
        headers = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)
        answers = [webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        assert Message.objects.count() == 1 and WebhookReceipt.objects.count() == 1
        assert SignatureNonce.objects.count() == 1

    def test_a_retry_after_a_database_outage_is_accepted(self, webhooks, sms, monkeypatch):
        from django.db import OperationalError

        from webhooks import views

        headers = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)

        def database_down(**kwargs):
            raise OperationalError("the database is restarting")

        with monkeypatch.context() as patch:
            patch.setattr(views, "receipt_store", database_down)
            assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code == 503
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code == 200
        assert Message.objects.count() == 1

    def test_a_captured_status_pair_cannot_be_pointed_at_another_message(self, webhooks):
        # V2 does not sign the query string, so ?ref= is part of what the nonce is tied to.
        ours = MessageFactory(direction="outbound", status="queued")
        victim = MessageFactory(direction="outbound", status="queued")
        report = {**load_fixture("status_delivered")["params"], "MessageUUID": "unknown-to-us", "Status": "failed"}
        captured = sign_v2(url=PUBLIC_BASE_URL + STATUS_PATH, auth_token=ACCOUNT_TOKEN)
        assert webhooks.post(f"{STATUS_PATH}?ref={ours.pk}", report, sign=False, headers=captured).status_code == 200
        assert webhooks.post(f"{STATUS_PATH}?ref={victim.pk}", report, sign=False, headers=captured).status_code == 403
        victim.refresh_from_db()
        assert victim.status == "queued"

    def test_a_captured_main_account_pair_is_spent_too(self, webhooks, sms):
        captured = sign_v2(url=URL, auth_token="unused", main_account_token=MAIN_TOKEN)
        del captured["X-Plivo-Signature-V2"]
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=captured).status_code == 200
        assert webhooks.post(MESSAGE_PATH, forged_from(sms), sign=False, headers=captured).status_code == 403

    def test_each_v2_callback_with_its_own_nonce_is_accepted(self, webhooks, sms):
        for number in range(3):
            headers = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)
            assert webhooks.post(MESSAGE_PATH, {**sms, "MessageUUID": f"v2-{number}"}, sign=False, headers=headers).status_code == 200
        assert Message.objects.count() == 3 and SignatureNonce.objects.count() == 3

    def test_a_nonce_plivo_would_not_send_is_refused_before_it_is_stored(self, webhooks, sms, caplog):
        headers = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN, nonce="9" * 129)
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=headers).status_code == 403
        assert "is not a nonce Plivo sends" in refusals(caplog)[-1]
        assert SignatureNonce.objects.count() == 0

    def test_the_database_allows_one_record_per_nonce(self):
        SignatureNonce.objects.create(nonce="123", request_digest="a" * 64)
        with pytest.raises(IntegrityError):
            SignatureNonce.objects.create(nonce="123", request_digest="b" * 64)


class TestV2Switch:
    def test_v2_can_be_refused_entirely(self, webhooks, sms, settings, caplog):
        settings.PLIVO_ACCEPT_V2_SIGNATURES = False
        response = webhooks.post(MESSAGE_PATH, sms, sign=False, headers=sign_v2(url=URL, auth_token=ACCOUNT_TOKEN))
        assert response.status_code == 403
        assert "V2 signatures are refused (PLIVO_ACCEPT_V2_SIGNATURES is off)" in refusals(caplog)[-1]
        assert Message.objects.count() == 0 and SignatureNonce.objects.count() == 0
        assert not SignatureFamilyTally.objects.filter(family="v2").exists()

    def test_v3_is_still_accepted_with_v2_refused(self, webhooks, sms, settings):
        settings.PLIVO_ACCEPT_V2_SIGNATURES = False
        assert webhooks.post(MESSAGE_PATH, sms).status_code == 200
        assert Message.objects.count() == 1


class TestV3:
    def test_a_replayed_v3_pair_with_a_new_message_uuid_is_refused(self, webhooks, sms, caplog):
        captured = sign_v3(url=URL, params=sms, auth_token=ACCOUNT_TOKEN)
        assert webhooks.post(MESSAGE_PATH, sms, sign=False, headers=captured).status_code == 200
        for forged in ({**sms, "MessageUUID": "replayed-new-uuid"}, forged_from(sms)):
            assert webhooks.post(MESSAGE_PATH, forged, sign=False, headers=captured).status_code == 403
            assert "X-Plivo-Signature-V3 does not match" in refusals(caplog)[-1]
        assert Message.objects.count() == 1

    def test_an_exact_v3_replay_is_answered_200_and_stores_nothing_new(self, webhooks, sms):
        captured = sign_v3(url=URL, params=sms, auth_token=ACCOUNT_TOKEN)
        assert [webhooks.post(MESSAGE_PATH, sms, sign=False, headers=captured).status_code for _ in range(2)] == [200, 200]
        assert Message.objects.count() == 1

    def test_v3_requests_record_no_nonce(self, webhooks, sms):
        webhooks.post(MESSAGE_PATH, sms)
        assert SignatureNonce.objects.count() == 0


class TestRetention:
    def test_the_webhook_worker_forgets_nonces_older_than_the_retention(self, settings):
        settings.WEBHOOK_V2_NONCE_RETENTION_DAYS = 30
        old = SignatureNonce.objects.create(nonce="old", request_digest="a" * 64,
                                            first_seen_at=timezone.now() - timedelta(days=30, minutes=1))
        recent = SignatureNonce.objects.create(nonce="recent", request_digest="a" * 64,
                                               first_seen_at=timezone.now() - timedelta(days=29))
        WebhookWorker().prune()
        assert list(SignatureNonce.objects.values_list("nonce", flat=True)) == [recent.nonce]
        assert not SignatureNonce.objects.filter(pk=old.pk).exists()

    def test_a_retention_shorter_than_plivos_retries_is_refused_at_startup(self):
        import subprocess
        import sys

        from django.conf import settings

        result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=settings.BASE_DIR,
                                env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "messaging_site.settings",
                                     "DEBUG": "true", "WEBHOOK_V2_NONCE_RETENTION_DAYS": "1"},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "WEBHOOK_V2_NONCE_RETENTION_DAYS must be at least 2" in result.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_captured_v2_pair_used_by_many_bodies_at_once_lets_exactly_one_through(sms):
    from urllib.parse import urlencode

    from django.test import Client

    headers = sign_v2(url=URL, auth_token=ACCOUNT_TOKEN)
    bodies = [urlencode({**sms, "MessageUUID": f"race-{n}"}) for n in range(8)]
    posts = [lambda body=body: Client().post(MESSAGE_PATH, data=body, content_type="application/x-www-form-urlencoded",
                                             headers=headers).status_code for body in bodies]
    answers = at_once(*posts)
    assert sorted(answers) == [200] + [403] * 7
    assert WebhookReceipt.objects.count() == 1 and SignatureNonce.objects.get().nonce == headers[V2_NONCE]
