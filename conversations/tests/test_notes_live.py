"""Notes and mentions over the inbox WebSocket (the real ASGI stack): every agent sees the
note, only the mentioned agent's sockets get the notification."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations import events
from conversations.services.notifications import notification_mark_read
from conversations.tests.factories import ConversationFactory
from conversations.tests.support import broadcast
from conversations.tests.test_consumers import open_socket, session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def post_note(author, conversation, text):
    """Through the REST API, as the inbox page does."""
    client = Client()
    client.force_login(author)
    response = client.post(f"/api/v1/conversations/{conversation.pk}/notes/", {"text": text},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


async def test_a_mention_reaches_the_mentioned_agents_sockets_and_no_one_elses(agent, other_agent, staff):
    alice, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))
    bob_tabs = [(await open_socket(await sync_to_async(session_cookie_for)(other_agent)))[0] for _ in range(2)]
    supervisor, _ = await open_socket(await sync_to_async(session_cookie_for)(staff))
    conversation = await sync_to_async(ConversationFactory)()

    note = await sync_to_async(post_note)(agent, conversation, "@bob the courier lost it")
    for socket in (alice, *bob_tabs, supervisor):
        created = await socket.receive_json_from(timeout=3)
        assert created["type"] == "message.created" and created["payload"]["message"]["id"] == note["id"]
        assert created["payload"]["message"]["author"] == {"id": agent.pk, "name": "Alice"}
    for tab in bob_tabs:
        pushed = await tab.receive_json_from(timeout=3)
        assert pushed["type"] == "notification.created" and "cursor" not in pushed
        assert pushed["payload"]["unread_count"] == 1
        assert pushed["payload"]["notification"]["message"]["id"] == note["id"]
        assert pushed["payload"]["notification"]["actor"]["name"] == "Alice"

    # The next thing everyone else gets is the next inbox event, not Bob's notification.
    marker = await sync_to_async(lambda: broadcast(events.conversation_updated_event(conversation)))()
    for socket in (alice, supervisor, *bob_tabs):
        assert (await socket.receive_json_from(timeout=3))["cursor"] == marker.id
    for socket in (alice, *bob_tabs, supervisor):
        await socket.disconnect()


async def test_reading_a_notification_updates_the_readers_other_tabs(agent, other_agent):
    conversation = await sync_to_async(ConversationFactory)()
    note = await sync_to_async(post_note)(agent, conversation, "@bob see this")
    bob, _ = await open_socket(await sync_to_async(session_cookie_for)(other_agent))
    alice, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))

    def read():
        from conversations.models import Notification

        notification = Notification.objects.get(message_id=note["id"])
        notification_mark_read(notification_id=notification.pk, user=other_agent)
        return notification.pk

    notification_id = await sync_to_async(read)()
    pushed = await bob.receive_json_from(timeout=3)
    assert pushed == {"type": "notifications.read",
                      "payload": {"ids": [notification_id], "all": False, "unread_count": 0}}
    marker = await sync_to_async(lambda: broadcast(events.conversation_updated_event(conversation)))()
    assert (await alice.receive_json_from(timeout=3))["cursor"] == marker.id
    await bob.disconnect()
    await alice.disconnect()
