"""Both webhook URLs work with and without the trailing slash an operator may leave off."""

import pytest

from conversations.models import Message, MessageStatusEvent
from conversations.tests.factories import MessageFactory
from webhooks.models import SignatureFamilyTally
from webhooks.tests.conftest import MESSAGE_PATH, PUBLIC_BASE_URL, STATUS_PATH, load_fixture

pytestmark = pytest.mark.django_db

MESSAGE_NO_SLASH = MESSAGE_PATH.rstrip("/")
STATUS_NO_SLASH = STATUS_PATH.rstrip("/")


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    # With DEBUG, APPEND_SLASH turns a POST to an unknown slashless URL into a RuntimeError.
    settings.DEBUG = request.param
    return request.param


def test_message_url_without_the_slash_is_stored_like_with_it(webhooks, debug):
    sms = load_fixture("sms")["params"]
    response = webhooks.post(MESSAGE_NO_SLASH, sms)
    assert response.status_code == 200 and response.content == b""
    assert Message.objects.get().plivo_message_uuid == sms["MessageUUID"]
    # Counted under the one endpoint, whichever spelling Plivo used.
    assert SignatureFamilyTally.objects.get().endpoint == MESSAGE_PATH


def test_status_url_without_the_slash_applies_the_report(webhooks, debug):
    message = MessageFactory(direction="outbound", status="queued", plivo_message_uuid="9f2c1d3e-7c5b-11ee-a2a4-0242ac110099")
    report = load_fixture("status_delivered")["params"]
    report["MessageUUID"] = message.plivo_message_uuid
    response = webhooks.post(f"{STATUS_NO_SLASH}?ref={message.pk}", report)
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered" and MessageStatusEvent.objects.count() == 1


@pytest.mark.parametrize("called, signed", [
    (MESSAGE_NO_SLASH, MESSAGE_PATH),
    (MESSAGE_PATH, MESSAGE_NO_SLASH),
    (STATUS_NO_SLASH, STATUS_PATH),
])
def test_the_signature_is_checked_against_the_url_actually_called(webhooks, caplog, called, signed, debug):
    params = load_fixture("sms" if "message" in called else "status_delivered")["params"]
    response = webhooks.post(called, params, signed_url=PUBLIC_BASE_URL + signed)
    assert response.status_code == 403
    assert f"signed URL {PUBLIC_BASE_URL}{called}," in caplog.text
    assert Message.objects.count() == 0 and MessageStatusEvent.objects.count() == 0
