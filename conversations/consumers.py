"""The inbox WebSocket: a doorbell that pushes every inbox event to every agent's tabs.

The socket carries no commands and no history: the page fetches state over REST and, after a
reconnect, replays `/api/v1/events/?after=<cursor>`. Events arrive from `conversations.events`
through the channel layer group `inbox`; `user.<id>` carries what is for one user alone (their
notifications) and lets logout, deactivation or loss of the agent role close all of their sockets.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from conversations import events
from conversations.permissions import user_is_agent

logger = logging.getLogger(__name__)

# Application close codes (4000-4999): the page shows "signed out" instead of reconnecting.
CLOSE_NOT_AGENT = 4403
CLOSE_SESSION_REVOKED = 4401

# Leaving a group is retried (0.2 + 0.4 + 0.8 s apart): a member left behind is sent every inbox
# event until its membership expires.
GROUP_DISCARD_ATTEMPTS = 4


class InboxConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple = ()
    membership_renewal: asyncio.Task | None = None

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
        if not await database_sync_to_async(user_is_agent)(user):
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=CLOSE_NOT_AGENT)
            return
        self.groups_joined = (events.INBOX_GROUP, events.user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.membership_renewal = asyncio.create_task(self.renew_memberships())
        await self.accept()
        # The page counts itself live (and catches up) on this, not on the socket opening: a
        # proxy or captive portal can accept a socket that no Parley server is behind.
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
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
        # Heartbeat: the page pings so that it notices a dead connection (and NATs keep it open).
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def inbox_events(self, message):
        for event in message["events"]:
            await self.send_json(event)

    async def user_event(self, message):
        """An event for this user alone (a notification), from `events.user_push`."""
        await self.send_json(message["event"])

    async def session_revoked(self, message):
        await self.send_json({"type": "session.revoked", "reason": message.get("reason", "")})
        await self.close(code=CLOSE_SESSION_REVOKED)
