"""The inbox WebSocket, through the real ASGI stack (origin check, session auth, routing)."""

import asyncio

import pytest
import redis.asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from django.test import Client

from conversations import events
from conversations.consumers import CLOSE_SESSION_REVOKED
from conversations.permissions import AGENTS_GROUP
from conversations.tests.factories import ConversationFactory, MessageFactory
from conversations.tests.support import broadcast
from messaging_site.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = b"http://localhost"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a password the production way takes a second or two on a busy CI machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def session_cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def open_socket(cookie: bytes | None = None, origin: bytes = ORIGIN):
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    if connected:
        assert await communicator.receive_json_from(timeout=3) == {"type": "hello"}
    return communicator, connected


async def assert_closed(communicator, code=None):
    output = await communicator.receive_output(timeout=3)
    while output["type"] == "websocket.send":  # the goodbye notice that precedes the close
        output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    if code is not None:
        assert output.get("code") == code


async def test_anonymous_user_is_refused():
    communicator, connected = await open_socket()
    assert not connected
    await communicator.disconnect()


async def test_logged_in_non_agent_is_refused(outsider):
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(outsider))
    assert not connected
    await communicator.disconnect()


async def test_inactive_user_is_refused(agent):
    cookie = await sync_to_async(session_cookie_for)(agent)
    agent.is_active = False
    await sync_to_async(agent.save)()
    communicator, connected = await open_socket(cookie)
    assert not connected
    await communicator.disconnect()


async def test_agent_session_from_another_origin_is_refused(agent):
    """Cross-site WebSocket hijacking: a page on evil.example opens a socket with the agent's cookie."""
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(agent), origin=b"https://evil.example")
    assert not connected
    await communicator.disconnect()


async def test_agent_receives_events_after_commit_with_their_cursor(agent):
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(agent))
    assert connected

    def publish():
        message = MessageFactory(conversation=ConversationFactory(), text="Where is my parcel?")
        return broadcast(events.message_created_event(message))

    event = await sync_to_async(publish)()
    received = await communicator.receive_json_from(timeout=3)
    assert received == {"cursor": event.id, "type": "message.created", "payload": event.data}
    assert received["payload"]["message"]["text"] == "Where is my parcel?"
    await communicator.disconnect()


async def test_every_agent_socket_gets_every_event(agent, other_agent):
    first, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))
    second, _ = await open_socket(await sync_to_async(session_cookie_for)(other_agent))
    event = await sync_to_async(lambda: broadcast(events.conversation_updated_event(ConversationFactory())))()
    assert (await first.receive_json_from(timeout=3))["cursor"] == event.id
    assert (await second.receive_json_from(timeout=3))["cursor"] == event.id
    await first.disconnect()
    await second.disconnect()


async def test_heartbeat_is_answered(agent):
    communicator, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.disconnect()


async def test_logout_closes_the_users_open_sockets_but_not_others(agent, other_agent):
    client = Client()
    await sync_to_async(client.force_login)(agent)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    mine, connected = await open_socket(cookie)
    assert connected
    colleague, _ = await open_socket(await sync_to_async(session_cookie_for)(other_agent))

    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    await assert_closed(mine, CLOSE_SESSION_REVOKED)
    assert await colleague.receive_nothing(timeout=0.3)
    # ... and the old cookie cannot open a new one.
    again, connected = await open_socket(cookie)
    assert not connected
    await colleague.disconnect()


async def test_deactivation_closes_sockets(agent):
    communicator, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))

    def deactivate():
        agent.is_active = False
        agent.save()

    await sync_to_async(deactivate)()
    await assert_closed(communicator, CLOSE_SESSION_REVOKED)


async def test_losing_the_agent_role_closes_sockets(agent):
    communicator, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))

    def remove_from_agents():
        agent.groups.remove(agent.groups.get(name=AGENTS_GROUP))

    await sync_to_async(remove_from_agents)()
    await assert_closed(communicator, CLOSE_SESSION_REVOKED)


async def test_group_side_removal_also_closes_sockets(agent):
    communicator, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))

    def remove_from_group_side():
        from django.contrib.auth.models import Group

        Group.objects.get(name=AGENTS_GROUP).user_set.remove(agent)

    await sync_to_async(remove_from_group_side)()
    await assert_closed(communicator, CLOSE_SESSION_REVOKED)


async def test_unrelated_profile_edit_keeps_the_socket(agent):
    communicator, _ = await open_socket(await sync_to_async(session_cookie_for)(agent))

    def rename():
        agent.first_name = "Alicia"
        agent.save()

    await sync_to_async(rename)()
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    await asyncio.sleep(0)


async def group_members(group: str) -> set[str]:
    """The channels in a group, read from the layer's storage: Redis's sorted set or memory."""
    layer = get_channel_layer()
    if not settings.REDIS_URL:
        return set(layer.groups.get(group, {}))
    client = redis.asyncio.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        return set(await client.zrange(layer._group_key(group), 0, -1))
    finally:
        await client.aclose()


async def test_a_socket_whose_channel_layer_fails_still_leaves_its_groups(agent, monkeypatch):
    """Redis lost while the socket waits for events: channels ends the consumer without calling
    disconnect(), and the dead channel must not stay a member (sent every event for a day)."""
    layer = get_channel_layer()
    real_receive = layer.receive
    redis_lost = asyncio.Event()

    async def receive(channel):
        waiting = asyncio.ensure_future(real_receive(channel))
        lost = asyncio.ensure_future(redis_lost.wait())
        done, _ = await asyncio.wait({waiting, lost}, return_when=asyncio.FIRST_COMPLETED)
        if lost in done:
            waiting.cancel()
            raise RedisConnectionError("Connection closed by server.")
        lost.cancel()
        return waiting.result()

    monkeypatch.setattr(layer, "receive", receive)
    groups = (events.INBOX_GROUP, events.user_group(agent.pk))
    before = {group: await group_members(group) for group in groups}
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(agent))
    assert connected
    joined = {group: await group_members(group) - before[group] for group in groups}
    assert [len(channels) for channels in joined.values()] == [1, 1]

    redis_lost.set()
    with pytest.raises(RedisConnectionError):
        await communicator.receive_output(timeout=3)
    assert {group: joined[group] & await group_members(group) for group in groups} == {group: set() for group in groups}


async def test_leaving_a_group_is_retried_when_redis_is_briefly_unavailable(agent, monkeypatch):
    layer = get_channel_layer()
    real_discard = layer.group_discard
    refused = []

    async def group_discard(group, channel):
        if len(refused) < 2:
            refused.append(group)
            raise MaxConnectionsError("Too many connections")
        await real_discard(group, channel)

    monkeypatch.setattr(layer, "group_discard", group_discard)
    groups = (events.INBOX_GROUP, events.user_group(agent.pk))
    before = {group: await group_members(group) for group in groups}
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(agent))
    assert connected
    joined = {group: await group_members(group) - before[group] for group in groups}

    await communicator.disconnect()
    assert refused == [events.INBOX_GROUP, events.INBOX_GROUP]
    assert {group: joined[group] & await group_members(group) for group in groups} == {group: set() for group in groups}
