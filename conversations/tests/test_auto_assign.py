"""AUTO_ASSIGN_ON_REPLY: an agent's reply in an unassigned conversation makes it theirs."""

import pytest

from conversations.models import Conversation, Message
from conversations.services.thread_entries import note_add
from conversations.tests.factories import ConversationFactory
from conversations.tests.test_api_messages import fresh_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

SEND = "/api/v1/messages/"


def reply(client, conversation, text="On it!", **headers):
    return client.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"text": text}, format="json", headers=headers)


def entries(conversation) -> list[str]:
    return list(Message.objects.filter(conversation=conversation, kind="activity").values_list("text", flat=True))


def test_the_first_reply_assigns_the_conversation_to_whoever_sent_it(agent_client, agent, django_capture_on_commit_callbacks):
    conversation = ConversationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert reply(agent_client, conversation).status_code == 202
    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert entries(conversation) == ["Assigned to Alice on their reply"]
    entry = Message.objects.get(kind="activity")
    assert entry.structured["activity"] == {"action": "auto_assigned", "assignee_id": agent.pk}
    assert entry.created_at >= Message.objects.get(direction="outbound").created_at  # after the reply in the thread


def test_a_colleagues_conversation_stays_theirs(agent_client, other_agent):
    conversation = ConversationFactory(assignee=other_agent)
    assert reply(agent_client, conversation).status_code == 202
    conversation.refresh_from_db()
    assert conversation.assignee == other_agent and entries(conversation) == []


def test_a_new_number_written_to_becomes_the_senders(agent_client, agent):
    response = agent_client.post(SEND, {"to": "+14155550123", "channel": "sms", "text": "Hello"}, format="json")
    assert response.status_code == 202
    assert Conversation.objects.get().assignee == agent


def test_off_when_the_setting_is_off(agent_client, settings):
    settings.AUTO_ASSIGN_ON_REPLY = False
    conversation = ConversationFactory()
    assert reply(agent_client, conversation).status_code == 202
    conversation.refresh_from_db()
    assert conversation.assignee is None and entries(conversation) == []


def test_a_refused_send_assigns_nothing(agent_client):
    conversation = ConversationFactory(last_inbound_at=None)  # WhatsApp window never opened
    assert reply(agent_client, conversation).status_code == 422
    conversation.refresh_from_db()
    assert conversation.assignee is None and entries(conversation) == []


def test_a_replayed_request_records_nothing_twice(agent_client, agent):
    conversation = ConversationFactory()
    for _ in range(2):
        assert reply(agent_client, conversation, **{"Idempotency-Key": "k-1"}).status_code in (200, 202)
    assert entries(conversation) == ["Assigned to Alice on their reply"]


def test_a_note_is_not_a_reply(agent, agent_client):
    conversation = ConversationFactory()
    note_add(conversation=conversation, author=agent, text="Looking into it")
    conversation.refresh_from_db()
    assert conversation.assignee is None
