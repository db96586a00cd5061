"""List previews and reply quotes carry the sender's id, so the inbox can say "Bob: …" rather
than "You: …" for a colleague's message, without a join per row."""

import pytest

from conversations.models import Conversation
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_previews_and_quotes_name_the_sender_by_id_in_as_many_queries(agent_client, agent, other_agent,
                                                                      django_assert_max_num_queries):
    conversations = []
    for index in range(20):
        conversation = ConversationFactory()
        question = MessageFactory(conversation=conversation, text="Where is it?")
        answer = MessageFactory(conversation=conversation, direction="outbound", sent_by=[agent, other_agent][index % 2],
                                reply_to=question, text="On its way")
        MessageFactory(conversation=conversation, text="Thanks", reply_to=answer)
        Conversation.objects.filter(pk=conversation.pk).update(last_message=answer, last_message_at=answer.created_at)
        conversations.append(conversation)

    with django_assert_max_num_queries(3):  # as test_inbox_api.py allows for any number of rows
        rows = agent_client.get("/api/v1/conversations/", {"limit": 50}).json()["results"]
    senders = {row["id"]: row["last_message"]["sent_by_id"] for row in rows}
    assert senders == {c.pk: [agent.pk, other_agent.pk][index % 2] for index, c in enumerate(conversations)}

    with django_assert_max_num_queries(4):  # as test_inbox_api.py allows for a thread
        thread = agent_client.get(f"/api/v1/conversations/{conversations[1].pk}/messages/").json()["results"]
    assert [(m["text"], m["reply_to"] and m["reply_to"]["sent_by_id"]) for m in thread] == [
        ("Where is it?", None), ("On its way", None), ("Thanks", other_agent.pk)]
