"""The inbox WebSocket on the Redis channel layer, through a real daphne: what production runs.

An idle socket must stay open (redis-py 8's 5 s read timeout used to match the layer's 5 s
blocking pop and kill it with 1011 every 5 s), and sockets that close together must all leave
their groups (the pool used to fail the burst of `group_discard`s).
"""

import asyncio
import json
import time
import uuid

import pytest
import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conversations import events
from conversations.tests.live_server import LiveServer, database_url_for_current_connection

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

IDLE_SECONDS = 20
SOCKETS = 300


def start_server(django_db_blocker, log_path, **extra_env) -> LiveServer:
    with django_db_blocker.unblock():
        database_url = database_url_for_current_connection()
    return LiveServer(database_url=database_url, log_path=log_path,
                      extra_env={key: str(value) for key, value in extra_env.items()})


@pytest.fixture
def server(django_db_blocker, tmp_path):
    live = start_server(django_db_blocker, tmp_path / "daphne.log")
    yield live
    live.stop()


@pytest.fixture
def server_with_short_memberships(django_db_blocker, tmp_path):
    """Group memberships of 6 s, renewed every 2 s: an event after 20 s idle proves the renewal."""
    live = start_server(django_db_blocker, tmp_path / "daphne.log", CHANNEL_GROUP_EXPIRY_SECONDS=6)
    yield live
    live.stop()


@pytest.fixture
def agent_cookie(agent) -> str:
    session = SessionStore()
    session["_auth_user_id"] = str(agent.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = agent.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


async def open_inbox_socket(server: LiveServer, cookie: str):
    # No client pings: the socket is as idle as an inbox nobody writes to.
    socket = await connect(server.url.replace("http", "ws") + "/ws/inbox/", origin=server.url,
                           additional_headers={"Cookie": cookie}, ping_interval=None, open_timeout=30)
    assert json.loads(await asyncio.wait_for(socket.recv(), 30)) == {"type": "hello"}
    return socket


async def group_members(client, group: str) -> set[bytes]:
    # channels-redis keeps a group as a sorted set of channel names under this key.
    return set(await client.zrange(get_channel_layer()._group_key(group), 0, -1))


async def test_an_idle_socket_stays_open_and_still_gets_events(server_with_short_memberships, agent_cookie):
    server = server_with_short_memberships
    socket = await open_inbox_socket(server, agent_cookie)
    try:
        started = time.monotonic()
        try:
            frame = await asyncio.wait_for(socket.recv(), IDLE_SECONDS)
        except TimeoutError:
            pass
        except ConnectionClosed as closed:
            pytest.fail(f"the server closed the idle socket after {time.monotonic() - started:.1f} s: {closed}")
        else:
            pytest.fail(f"an idle socket was sent {frame!r}")

        text = f"still there? {uuid.uuid4()}"
        params = {"From": "14155550123", "To": settings.PLIVO_WHATSAPP_NUMBER.lstrip("+"), "Type": "whatsapp",
                  "ContentType": "text", "Body": text, "MessageUUID": str(uuid.uuid4()), "Units": "1"}
        await asyncio.to_thread(server.post_signed, "/webhooks/plivo/message/", params, wait_applied=False)
        frames = []
        try:
            async with asyncio.timeout(15):
                while not any(frame.get("type") == events.MESSAGE_CREATED and text in json.dumps(frame["payload"])
                              for frame in frames):
                    frames.append(json.loads(await socket.recv()))
        except TimeoutError:
            pytest.fail(f"the socket got no message.created for the new message after {IDLE_SECONDS} s idle "
                        f"(it got {frames}); see {server.log_path}")
    finally:
        await socket.close()


async def test_sockets_closed_at_once_all_leave_their_groups(server, agent, agent_cookie):
    cookie = agent_cookie
    groups = (events.INBOX_GROUP, events.user_group(agent.pk))
    client = redis.asyncio.from_url(settings.REDIS_URL)
    try:
        members_before = {group: await group_members(client, group) for group in groups}
        sockets = []
        for _ in range(0, SOCKETS, 25):  # opened a batch at a time, as agents arrive
            sockets += await asyncio.gather(*(open_inbox_socket(server, cookie) for _ in range(25)))
        joined = {group: await group_members(client, group) - members_before[group] for group in groups}
        assert {group: len(members) for group, members in joined.items()} == {group: SOCKETS for group in groups}

        for socket in sockets:  # a proxy restart: every connection dropped in the same instant
            socket.transport.abort()
        deadline = time.monotonic() + 30
        while True:
            left_behind = {group: len(joined[group] & await group_members(client, group)) for group in groups}
            if not any(left_behind.values()):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"closed sockets are still group members 30 s later: {left_behind}; see {server.log_path}")
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()
