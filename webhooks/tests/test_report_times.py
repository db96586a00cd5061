"""The times a delivery report shows are Plivo's own (SentTime, DeliveryReportTime), not when
the report happened to reach Parley; and a WhatsApp quick-reply tap with only Plivo's documented
fields (`Body`) is a button reply."""

from datetime import datetime, timezone as dt_timezone

import pytest
import time_machine

from conversations.models import Message, MessageStatusEvent
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

UUID = "0b7d3e4f-7c5e-11ee-a1b2-0242ac120002"  # the uuid in status_delivered.json
# The fixture's report: sent at 10:15:03.002911, delivered at 10:15:04.770135 (UTC); it reaches us later.
ARRIVES = datetime(2026, 9, 27, 10, 20, tzinfo=dt_timezone.utc)


@pytest.fixture
def sent_message():
    conversation = ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="whatsapp")
    return MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=UUID)


def test_delivered_at_is_plivos_delivery_report_time(webhooks, sent_message):
    with time_machine.travel(ARRIVES, tick=False):
        assert webhooks.status().status_code == 200
    message = Message.objects.get(pk=sent_message.pk)
    assert message.delivered_at == datetime(2026, 9, 27, 10, 15, 4, 770135, tzinfo=dt_timezone.utc)
    event = MessageStatusEvent.objects.get()
    assert event.occurred_at == message.delivered_at and event.received_at == ARRIVES


def test_sent_at_is_plivos_sent_time(webhooks, sent_message):
    with time_machine.travel(ARRIVES, tick=False):
        webhooks.status(Status="sent", Sequence="2", DeliveryReportTime=None)
    assert Message.objects.get(pk=sent_message.pk).sent_at == datetime(2026, 9, 27, 10, 15, 3, 2911, tzinfo=dt_timezone.utc)


def test_a_report_without_plivos_times_uses_when_it_arrived(webhooks, sent_message):
    with time_machine.travel(ARRIVES, tick=False):
        webhooks.status(MessageTime=None, QueuedTime=None, SentTime=None, DeliveryReportTime=None)
    assert Message.objects.get(pk=sent_message.pk).delivered_at == ARRIVES


@pytest.mark.parametrize("bad_time", ["yesterday-ish", "2026-09-27 10:30:00", "2020-01-01 00:00:00"])
def test_a_time_that_cannot_be_right_is_not_believed(webhooks, sent_message, bad_time):
    # Unparseable, after the report reached us, or years before it.
    with time_machine.travel(ARRIVES, tick=False):
        webhooks.status(DeliveryReportTime=bad_time, SentTime=None, MessageTime=None)
    assert Message.objects.get(pk=sent_message.pk).delivered_at == ARRIVES


def test_the_api_shows_when_each_report_happened(webhooks, sent_message, agent_client):
    with time_machine.travel(ARRIVES, tick=False):
        webhooks.status()
    [history] = agent_client.get(f"/api/v1/messages/{sent_message.pk}/").json()["status_history"]
    assert history["occurred_at"].startswith("2026-09-27T10:15:04.770135")


def test_a_button_tap_with_only_body_is_a_button_reply(webhooks):
    webhooks.inbound("whatsapp_button_form", Body="Yes, reschedule", **{"Button.Text": None, "Button.Payload": None})
    message = Message.objects.get()
    assert message.kind == "button_reply"
    assert message.text == "Yes, reschedule"
    assert message.structured["button"] == {"text": "Yes, reschedule", "payload": ""}


def test_a_button_tap_keeps_plivos_payload_when_given(webhooks):
    webhooks.inbound("whatsapp_button_form", Body="")
    message = Message.objects.get()
    assert message.kind == "button_reply" and message.structured["button"]["payload"]
