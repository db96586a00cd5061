"""The inbox WebSocket: a doorbell that pushes every inbox event to every agent's tabs.

The socket carries no commands and no history: the page fetches state over REST and, after a
reconnect, replays `/api/v1/events/?after=<cursor>`. Events arrive from `conversations.events`
through the channel layer group `inbox`; `user.<id>` carries what is for one user alone (their
notifications) and lets logout, deactivation or loss of the agent role close all of their sockets.
The one thing a page sends besides its heartbeat is presence (`conversations.presence`), passed on
to the other agents and never stored.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from conversations import events
from conversations.permissions import user_is_agent
from conversations.presence import PresenceThrottle, presence_event, presence_parse

logger = logging.getLogger(__name__)

# Application close codes (4000-4999): the page shows "signed out" instead of reconnecting.
CLOSE_NOT_AGENT = 4403
CLOSE_SESSION_REVOKED = 4401

# Leaving a group is retried (0.2 + 0.4 + 0.8 s apart): a member left behind is sent every inbox
# event until its membership expires.
GROUP_DISCARD_ATTEMPTS = 4


def _agent_identity(user) -> dict | None:
    """{id, name} of an agent as presence shows them; None for anyone else."""
    if not user_is_agent(user):
        return None
    return {"id": user.pk, "name": user.get_full_name() or user.username}


class InboxConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple = ()
    membership_renewal: asyncio.Task | None = None
    identity: dict | None = None
    viewing: int | None = None  # the conversation this socket last said it views or types in

    async def __call__(self, scope, receive, send):
        # When the channel layer's receive raises (Redis lost), channels ends the consumer without
        # calling disconnect(): leave the groups here too. Shielded, so that daphne cancelling a
        # consumer that is slow to finish cannot cut the leaving short.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await asyncio.shield(self.leave_groups())

    async def connect(self):
        user = self.scope.get("user")
        self.identity = await database_sync_to_async(_agent_identity)(user)
        if self.identity is None:
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=CLOSE_NOT_AGENT)
            return
        self.presence_throttle = PresenceThrottle()
        self.groups_joined = (events.INBOX_GROUP, events.user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.membership_renewal = asyncio.create_task(self.renew_memberships())
        await self.accept()
        # The page counts itself live (and catches up) on this, not on the socket opening: a
        # proxy or captive portal can accept a socket that no Parley server is behind.
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        if self.viewing is not None and self.groups_joined:
            # Best effort: others would see the notice expire a few seconds later anyway.
            try:
                await self.presence_send(self.viewing, "left")
            except RedisError:
                pass
        await self.leave_groups()

    async def renew_memberships(self):
        """Group members expire (CHANNEL_GROUP_EXPIRY_SECONDS) so that a channel whose process
        died is dropped; a live socket re-adds itself well before that."""
        interval = max(1.0, self.channel_layer.group_expiry / 3)
        while True:
            await asyncio.sleep(interval)
            for group in self.groups_joined:
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                except RedisError as error:
                    logger.warning("could not renew membership of group %s (next try in %.0f s): %s",
                                   group, interval, error)

    async def leave_groups(self):
        groups, self.groups_joined = self.groups_joined, ()
        renewal, self.membership_renewal = self.membership_renewal, None
        if renewal is not None:
            # Stopped before leaving, so that a renewal in flight cannot re-add the channel.
            renewal.cancel()
            await asyncio.wait([renewal])
        for group in groups:
            await self.leave_group(group)

    async def leave_group(self, group: str):
        for attempt in range(1, GROUP_DISCARD_ATTEMPTS + 1):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
                return
            except RedisError as error:
                if attempt == GROUP_DISCARD_ATTEMPTS:
                    logger.warning("could not leave group %s after %d attempts; the membership expires "
                                   "by itself: %s", group, attempt, error)
                    return
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        # Heartbeat: the page pings so that it notices a dead connection (and NATs keep it open).
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "presence" and (parsed := presence_parse(content)):
            if self.presence_throttle.allow(*parsed):
                await self.presence_send(*parsed)

    async def presence_send(self, conversation_id: int, state: str):
        self.viewing = None if state == "left" else conversation_id
        await self.channel_layer.group_send(events.INBOX_GROUP, {
            "type": "inbox.presence",
            "from_channel": self.channel_name,
            "event": presence_event(user=self.identity, conversation_id=conversation_id, state=state),
        })

    async def inbox_presence(self, message):
        if message["from_channel"] != self.channel_name:  # a page knows what it said itself
            await self.send_json(message["event"])

    async def inbox_events(self, message):
        for event in message["events"]:
            await self.send_json(event)

    async def user_event(self, message):
        """An event for this user alone (a notification), from `events.user_push`."""
        await self.send_json(message["event"])

    async def session_revoked(self, message):
        await self.send_json({"type": "session.revoked", "reason": message.get("reason", "")})
        await self.close(code=CLOSE_SESSION_REVOKED)
