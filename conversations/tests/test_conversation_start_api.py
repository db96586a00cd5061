"""Starting a conversation: the number is read in any format, an existing conversation with it
on that channel is found (opened instead of a duplicate), and an opted-out number is refused
with the reason."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/conversations/lookup/"


def test_a_new_number_in_any_format_has_no_conversation_yet(agent_client):
    body = agent_client.get(URL, {"phone": "(415) 555-0177", "channel": "whatsapp"}).json()
    assert body == {"phone": "+14155550177", "channel": "whatsapp", "conversation_id": None, "refusal": None,
                    "window_open": False}
    assert agent_client.get(URL, {"phone": "415 555 0177", "channel": "sms"}).json()["window_open"] is True


def test_the_existing_conversation_on_that_channel_is_found(agent_client):
    contact = ContactFactory(phone="+14155550178")
    whatsapp = ConversationFactory(contact=contact, channel="whatsapp", last_inbound_at=timezone.now() - timedelta(hours=1))
    body = agent_client.get(URL, {"phone": "+1 415-555-0178", "channel": "whatsapp"}).json()
    assert (body["conversation_id"], body["window_open"]) == (whatsapp.pk, True)
    assert agent_client.get(URL, {"phone": "+14155550178", "channel": "sms"}).json()["conversation_id"] is None


def test_an_opted_out_number_is_refused_with_the_reason(agent_client):
    contact = ContactFactory(phone="+14155550179", sms_opted_out_at=timezone.now(), sms_opt_out_reason="texted STOP")
    ConversationFactory(contact=contact, channel="sms")
    body = agent_client.get(URL, {"phone": "4155550179", "channel": "sms"}).json()
    assert "opted out of SMS" in body["refusal"] and "texted STOP" in body["refusal"]


def test_a_number_that_is_not_one_is_a_400_naming_the_field(agent_client):
    response = agent_client.get(URL, {"phone": "12", "channel": "sms"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "phone"


def test_non_agents_cannot_look_numbers_up(api_client, outsider):
    api_client.force_authenticate(outsider)
    assert api_client.get(URL, {"phone": "+14155550177", "channel": "sms"}).status_code == 403


def test_the_first_whatsapp_message_to_a_new_number_is_a_template_and_makes_one_conversation(agent_client):
    MessageTemplateFactory(name="welcome", language="en_US", body="Hello {{1}}!")
    send = {"to": "(415) 555-0180", "channel": "whatsapp", "kind": "template",
            "template": {"name": "welcome", "language": "en_US", "parameters": {"body": ["Ada"]}}}
    first = agent_client.post("/api/v1/messages/", send, format="json")
    assert first.status_code == 202, first.json()
    again = agent_client.post("/api/v1/messages/", {**send, "to": "+14155550180"}, format="json")
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    assert Conversation.objects.filter(contact__phone="+14155550180", channel="whatsapp").count() == 1
    free_text = agent_client.post("/api/v1/messages/", {"to": "+14155550181", "channel": "whatsapp", "text": "Hi"},
                                  format="json")
    assert free_text.status_code == 422 and free_text.json()["error"]["code"] == "window_closed"
